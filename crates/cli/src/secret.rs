//! `switchboard secret set|unset NAME`: values come from stdin or a hidden prompt, never
//! from the command line (where `ps` and shell history would see them).

use std::io::{IsTerminal, Read};

use anyhow::{Context, bail};
use switchboard_core::secrets::{SecretName, SecretStore, Sensitive};

/// Reads the value: a hidden prompt on a terminal, else all of stdin (one trailing newline
/// dropped, so `echo value | switchboard secret set NAME` works).
pub fn read_value(name: &str) -> anyhow::Result<Sensitive<String>> {
    let value = if std::io::stdin().is_terminal() {
        rpassword::prompt_password(format!("Value for '{name}' (input hidden): "))
            .context("reading the value")?
    } else {
        let mut value = String::new();
        std::io::stdin()
            .read_to_string(&mut value)
            .context("reading the value from stdin")?;
        let trimmed = value.strip_suffix('\n').unwrap_or(&value);
        trimmed.strip_suffix('\r').unwrap_or(trimmed).to_owned()
    };
    if value.is_empty() {
        bail!("the value is empty; nothing was stored");
    }
    Ok(Sensitive::new(value))
}

pub fn set(store: &dyn SecretStore, name: &SecretName) -> anyhow::Result<()> {
    let name = name.as_str();
    let value = read_value(name)?;
    store.set(name, &value)?;
    eprintln!(
        "Stored '{name}' in the {}. Reference it as {{\"secret\": \"{name}\"}}.",
        store.describe()
    );
    Ok(())
}

pub fn unset(store: &dyn SecretStore, name: &SecretName) -> anyhow::Result<()> {
    let name = name.as_str();
    store.delete(name)?;
    eprintln!("Removed '{name}' from the {}.", store.describe());
    Ok(())
}
