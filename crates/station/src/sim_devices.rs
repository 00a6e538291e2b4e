//! Simulated devices wired together as the real ones are: the printer's contact station holds
//! a chip reader, so a card the printer feeds appears in the virtual reader when it reaches
//! the contact station, and leaves it when it moves on. Each card taken from the hopper is a
//! fresh blank chip, made by the card factory of the profile.

use std::path::Path;
use std::sync::Arc;

use card_sim::{CardOs, SharedCard};
use firmware_profile::Profile;
use printer_sim::{CardPlace, SimPrinter};

/// Puts the chip of `card` into the printer's contact station: the slot starts empty, a fed
/// card is a new blank chip of `profile`, present in the reader only at the contact station.
pub fn chip_in_printer(
    printer: &SimPrinter,
    card: SharedCard,
    profile_path: &Path,
) -> Result<(), card_sim::SimError> {
    let profile = Arc::new(Profile::load(profile_path)?);
    let mut factory = card_sim::factory_for(&profile, profile_path)?;
    factory.blank = true;
    card_sim::lock(&card).remove();
    printer.lock().observe(Box::new(move |place, fed| {
        let mut chip = card_sim::lock(&card);
        if fed {
            *chip.os_mut() = CardOs::manufacture(profile.clone(), &factory);
        }
        if place == Some(CardPlace::Contact) {
            chip.insert();
        } else {
            chip.remove();
        }
    }));
    Ok(())
}
