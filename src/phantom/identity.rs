//! Fake identities for the phantom's site export: every string distinctive enough (≥ 6
//! characters, not a common word) that a grep of de-identified output for it cannot hit by chance.

use serde::Serialize;

use super::rng::Rng;
use crate::datetime::Date;

const SURNAMES: [&str; 16] = [
    "Lindqvist",
    "Okonkwo",
    "Marchetti",
    "Kowalczyk",
    "Takahashi",
    "Brennagh",
    "Haddadin",
    "Novakova",
    "Ferreirinha",
    "Castellanos",
    "Dubreuil",
    "Nakamoto",
    "Schnieder",
    "Oldenburg",
    "Rossetti",
    "Petrovsky",
];
const GIVEN: [&str; 12] = [
    "Annelise",
    "Bartholomew",
    "Cordelia",
    "Desmond",
    "Evangeline",
    "Fitzgerald",
    "Gwendolyn",
    "Horatio",
    "Isadora",
    "Jeremiah",
    "Katharina",
    "Leopoldine",
];
const STREETS: [&str; 6] = [
    "Wexford Lane",
    "Quillon Road",
    "Marrowdale Street",
    "Ashgrove Crescent",
    "Tilbury Walk",
    "Penhallow Close",
];
const CITIES: [&str; 4] = ["Brackenfield", "Dunmarrow", "Eastwich", "Kingsmere"];
const INSTITUTIONS: [&str; 3] = [
    "St Aldric University Hospital",
    "Royal Vennford Infirmary",
    "Marlowe Cancer Centre",
];

/// The PHI of one subject.
#[derive(Debug, Clone, Serialize)]
pub struct Identity {
    pub surname: String,
    pub given: String,
    pub patient_id: String,
    pub other_id: String,
    pub birth_date: String,
    pub address: String,
    pub phone: String,
    pub institution: String,
    pub institution_address: String,
    pub referring: String,
    pub performing: String,
    pub operator: String,
    pub accession_pet: String,
    pub accession_mr: String,
    pub station: String,
    pub serial: String,
    pub study_id: String,
    pub private_note: String,
}

impl Identity {
    pub fn random(rng: &mut Rng, index: usize) -> Self {
        let surname = SURNAMES[(index + rng.below(3) as usize) % SURNAMES.len()].to_string();
        let given = rng.pick(&GIVEN).to_string();
        let birth = Date::new(
            1945 + rng.below(30) as i32,
            1 + rng.below(12) as u32,
            1 + rng.below(28) as u32,
        );
        let institution = rng.pick(&INSTITUTIONS).to_string();
        let doc = |rng: &mut Rng| format!("{}^{}^^Dr", rng.pick(&SURNAMES), rng.pick(&GIVEN));
        Identity {
            patient_id: format!(
                "MRN{:07}",
                1_000_000 + index as u64 * 7919 + rng.below(7000)
            ),
            other_id: format!("NHN{:010}", rng.below(9_000_000_000) + 1_000_000_000),
            birth_date: birth.to_da(),
            address: format!(
                "{} {}^^{}^^{:02}{}",
                10 + rng.below(180),
                rng.pick(&STREETS),
                rng.pick(&CITIES),
                10 + rng.below(89),
                "QX"
            ),
            phone: format!("+44 20 7946 {:04}", 1000 + rng.below(8999)),
            institution_address: format!(
                "{} Infirmary Road, {}",
                2 + rng.below(90),
                rng.pick(&CITIES)
            ),
            institution,
            referring: doc(rng),
            performing: doc(rng),
            operator: format!("{}^{}", rng.pick(&SURNAMES), rng.pick(&GIVEN)),
            accession_pet: format!("ACC{:08}", 10_000_000 + rng.below(80_000_000)),
            accession_mr: format!("ACC{:08}", 10_000_000 + rng.below(80_000_000)),
            station: format!("STNAX{:04}", 1000 + rng.below(8999)),
            serial: format!("SER{:08}", 10_000_000 + rng.below(80_000_000)),
            study_id: format!("SID{:06}", 100_000 + rng.below(800_000)),
            private_note: format!("Pt {surname} {given} ward {}", 3 + rng.below(20)),
            surname,
            given,
        }
    }

    /// DICOM PN of the patient.
    pub fn name(&self) -> String {
        format!("{}^{}", self.surname, self.given)
    }

    /// Every PHI string planted in this subject's headers (for leak checks).
    pub fn phi_strings(&self) -> Vec<String> {
        let mut v = vec![
            self.surname.clone(),
            self.given.clone(),
            self.name(),
            self.patient_id.clone(),
            self.other_id.clone(),
            self.birth_date.clone(),
            self.address.clone(),
            self.phone.clone(),
            self.institution.clone(),
            self.institution_address.clone(),
            self.referring.clone(),
            self.performing.clone(),
            self.operator.clone(),
            self.accession_pet.clone(),
            self.accession_mr.clone(),
            self.station.clone(),
            self.serial.clone(),
            self.study_id.clone(),
            self.private_note.clone(),
        ];
        v.sort();
        v.dedup();
        v
    }
}
