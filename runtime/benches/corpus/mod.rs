//! A deterministic hospital-mix corpus of HL7 v2.5.1 messages for benchmarks.
//!
//! Self-contained (no crate imports, no dependencies) so that other benchmarks can include it
//! with `#[path = ".../runtime/benches/corpus/mod.rs"] mod corpus;`. A xorshift PRNG with a
//! fixed seed makes the same messages every run: ADT^A01/A04/A08, ORU^R01 with 10-30 OBX,
//! ORM^O01 and RDE^O11, 0.5-8 KB each, median about 3 KB, with realistic content (names,
//! addresses, CX identifiers with assigning authorities, PV1 locations, XCN doctors, OBX
//! NM/ST/CE values with units and ranges, NTE comments with some escape sequences).
#![allow(dead_code, unreachable_pub)]

/// Xorshift64* pseudo-random numbers with a fixed seed.
pub struct Rng(u64);

impl Rng {
    /// A generator with the given seed (0 is replaced by a constant).
    pub fn new(seed: u64) -> Rng {
        Rng(if seed == 0 {
            0x9E37_79B9_7F4A_7C15
        } else {
            seed
        })
    }

    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.0 = x;
        x.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    /// A number in `lo..=hi`.
    pub fn range(&mut self, lo: u64, hi: u64) -> u64 {
        lo + self.next_u64() % (hi - lo + 1)
    }

    /// One element of `items`.
    pub fn pick<'s>(&mut self, items: &[&'s str]) -> &'s str {
        items[(self.next_u64() % items.len() as u64) as usize]
    }

    /// True with probability `percent`/100.
    pub fn chance(&mut self, percent: u64) -> bool {
        self.next_u64() % 100 < percent
    }
}

const FAMILY: &[&str] = &[
    "SMITH",
    "JOHNSON",
    "WILLIAMS",
    "BROWN",
    "JONES",
    "GARCIA",
    "MILLER",
    "DAVIS",
    "RODRIGUEZ",
    "MARTINEZ",
    "HERNANDEZ",
    "LOPEZ",
    "GONZALEZ",
    "WILSON",
    "ANDERSON",
    "THOMAS",
    "TAYLOR",
    "MOORE",
    "JACKSON",
    "MARTIN",
    "LEE",
    "PEREZ",
    "THOMPSON",
    "WHITE",
    "HARRIS",
    "O'BRIEN",
    "MÜLLER",
    "NGUYEN",
    "KOWALSKI",
    "DUBOIS",
];
const GIVEN: &[&str] = &[
    "JAMES",
    "MARY",
    "ROBERT",
    "PATRICIA",
    "JOHN",
    "JENNIFER",
    "MICHAEL",
    "LINDA",
    "DAVID",
    "ELIZABETH",
    "WILLIAM",
    "BARBARA",
    "RICHARD",
    "SUSAN",
    "JOSEPH",
    "JESSICA",
    "THOMAS",
    "SARAH",
    "CHARLES",
    "KAREN",
    "JOSÉ",
    "CHLOÉ",
    "ANNA",
    "LUCAS",
];
const STREETS: &[&str] = &[
    "MAIN ST",
    "OAK AVE",
    "PINE RD",
    "MAPLE DR",
    "CEDAR LN",
    "ELM ST",
    "WASHINGTON BLVD",
    "LAKE SHORE DR",
    "HIGHLAND AVE",
    "PARK PL",
];
const CITIES: &[(&str, &str, &str)] = &[
    ("SPRINGFIELD", "IL", "62701"),
    ("ANN ARBOR", "MI", "48104"),
    ("MADISON", "WI", "53703"),
    ("COLUMBUS", "OH", "43215"),
    ("AUSTIN", "TX", "78701"),
    ("PORTLAND", "OR", "97201"),
    ("DENVER", "CO", "80202"),
    ("RALEIGH", "NC", "27601"),
];
const DOCTORS: &[&str] = &[
    "1234567890^WELBY^MARCUS^A^^DR^MD^^NPI&2.16.840.1.113883.4.6&ISO^L^^^NPI",
    "2345678901^QUINN^MICHAELA^^^DR^MD^^NPI&2.16.840.1.113883.4.6&ISO^L^^^NPI",
    "3456789012^HOUSE^GREGORY^^^DR^MD^^NPI&2.16.840.1.113883.4.6&ISO^L^^^NPI",
    "4567890123^GREY^MEREDITH^^^DR^MD^^NPI&2.16.840.1.113883.4.6&ISO^L^^^NPI",
    "5678901234^KILDARE^JAMES^^^DR^MD^^NPI&2.16.840.1.113883.4.6&ISO^L^^^NPI",
];
const UNITS: &[&str] = &["4W", "5E", "ICU", "CCU", "ED", "3N", "6S", "PEDS"];
/// (code, text, units, range) for NM results.
const NM_TESTS: &[(&str, &str, &str, &str, f64, f64)] = &[
    (
        "2951-2",
        "Sodium [Moles/volume] in Serum or Plasma",
        "mmol/L",
        "136-145",
        128.0,
        150.0,
    ),
    (
        "2823-3",
        "Potassium [Moles/volume] in Serum or Plasma",
        "mmol/L",
        "3.5-5.1",
        2.9,
        6.0,
    ),
    (
        "2075-0",
        "Chloride [Moles/volume] in Serum or Plasma",
        "mmol/L",
        "98-107",
        90.0,
        115.0,
    ),
    (
        "2028-9",
        "Carbon dioxide, total [Moles/volume] in Serum or Plasma",
        "mmol/L",
        "22-29",
        15.0,
        35.0,
    ),
    (
        "3094-0",
        "Urea nitrogen [Mass/volume] in Serum or Plasma",
        "mg/dL",
        "7-20",
        4.0,
        60.0,
    ),
    (
        "2160-0",
        "Creatinine [Mass/volume] in Serum or Plasma",
        "mg/dL",
        "0.6-1.3",
        0.4,
        4.5,
    ),
    (
        "2345-7",
        "Glucose [Mass/volume] in Serum or Plasma",
        "mg/dL",
        "70-99",
        50.0,
        400.0,
    ),
    (
        "17861-6",
        "Calcium [Mass/volume] in Serum or Plasma",
        "mg/dL",
        "8.6-10.3",
        7.0,
        12.0,
    ),
    (
        "6690-2",
        "Leukocytes [#/volume] in Blood by Automated count",
        "10*3/uL",
        "4.5-11.0",
        1.0,
        25.0,
    ),
    (
        "789-8",
        "Erythrocytes [#/volume] in Blood by Automated count",
        "10*6/uL",
        "4.2-5.9",
        2.5,
        7.0,
    ),
    (
        "718-7",
        "Hemoglobin [Mass/volume] in Blood",
        "g/dL",
        "13.5-17.5",
        6.0,
        20.0,
    ),
    (
        "4544-3",
        "Hematocrit [Volume Fraction] of Blood by Automated count",
        "%",
        "41-53",
        20.0,
        60.0,
    ),
    (
        "777-3",
        "Platelets [#/volume] in Blood by Automated count",
        "10*3/uL",
        "150-400",
        20.0,
        900.0,
    ),
    (
        "1742-6",
        "Alanine aminotransferase [Enzymatic activity/volume] in Serum or Plasma",
        "U/L",
        "7-56",
        5.0,
        300.0,
    ),
    (
        "1920-8",
        "Aspartate aminotransferase [Enzymatic activity/volume] in Serum or Plasma",
        "U/L",
        "10-40",
        5.0,
        300.0,
    ),
];
const CE_VALUES: &[&str] = &[
    "260385009^Negative^SCT^NEG^Negative^L",
    "10828004^Positive^SCT^POS^Positive^L",
    "419984006^Inconclusive^SCT^INC^Inconclusive^L",
];
const COMMENTS: &[&str] = &[
    "Specimen slightly hemolyzed; potassium may be falsely elevated.",
    "Result verified by repeat analysis \\T\\ reviewed by pathologist.",
    "Critical value called to RN J. DOE at 14:32, read back confirmed.",
    "Reference range updated 2024-01-15\\.br\\See lab manual section 4\\F\\B for details.",
    "Fasting status unknown. Interpret glucose with caution.",
    "Sample received at 09:12 \\S\\ processed within 2 hours.",
    "Please note: method changed to enzymatic assay as of this date.\\.br\\Values are not directly comparable with previous results.",
];
const DRUGS: &[(&str, &str, &str)] = &[
    ("308136", "amlodipine 5 MG Oral Tablet", "5"),
    ("197361", "amlodipine 10 MG Oral Tablet", "10"),
    ("310965", "ibuprofen 200 MG Oral Tablet", "200"),
    ("198211", "simvastatin 40 MG Oral Tablet", "40"),
    (
        "861007",
        "metformin hydrochloride 500 MG Oral Tablet",
        "500",
    ),
    ("313782", "acetaminophen 325 MG Oral Tablet", "325"),
    ("1049621", "oxycodone hydrochloride 5 MG Oral Tablet", "5"),
];
const ALLERGIES: &[&str] = &[
    "70618^Penicillin^RXNORM",
    "1191^Aspirin^RXNORM",
    "2670^Codeine^RXNORM",
    "227493005^Cashew nuts^SCT",
    "256349002^Peanut^SCT",
];
const DIAGNOSES: &[&str] = &[
    "I10^Essential (primary) hypertension^I10C",
    "E11.9^Type 2 diabetes mellitus without complications^I10C",
    "J18.9^Pneumonia, unspecified organism^I10C",
    "N17.9^Acute kidney failure, unspecified^I10C",
    "I50.9^Heart failure, unspecified^I10C",
    "K35.80^Unspecified acute appendicitis^I10C",
];

struct Ctx {
    rng: Rng,
    seq: u64,
}

impl Ctx {
    fn ts(&mut self) -> String {
        format!(
            "2024{:02}{:02}{:02}{:02}{:02}",
            self.rng.range(1, 12),
            self.rng.range(1, 28),
            self.rng.range(0, 23),
            self.rng.range(0, 59),
            self.rng.range(0, 59)
        )
    }

    fn msh(&mut self, msg_type: &str) -> String {
        self.seq += 1;
        let ts = self.ts();
        format!(
            "MSH|^~\\&|EPIC|GENERAL HOSPITAL^2.16.840.1.113883.3.72.5.20^ISO|LABSYS|LAB^2.16.840.1.113883.3.72.5.21^ISO|{ts}-0500||{msg_type}|MSG{:08}|P|2.5.1|||AL|NE|USA|UNICODE UTF-8",
            self.seq
        )
    }

    fn person(&mut self) -> (String, String, String) {
        let family = self.rng.pick(FAMILY).to_owned();
        let given = self.rng.pick(GIVEN).to_owned();
        let middle = char::from(b'A' + (self.rng.next_u64() % 26) as u8).to_string();
        (family, given, middle)
    }

    fn address(&mut self) -> String {
        let (city, state, zip) = CITIES[(self.rng.next_u64() % CITIES.len() as u64) as usize];
        let apt = if self.rng.chance(30) {
            format!("APT {}", self.rng.range(1, 40))
        } else {
            String::new()
        };
        format!(
            "{} {}^{apt}^{city}^{state}^{zip}^USA^H",
            self.rng.range(1, 9999),
            self.rng.pick(STREETS)
        )
    }

    fn pid(&mut self) -> String {
        let (family, given, middle) = self.person();
        let mrn = self.rng.range(100_000, 9_999_999);
        let dob = format!(
            "{}{:02}{:02}",
            self.rng.range(1930, 2020),
            self.rng.range(1, 12),
            self.rng.range(1, 28)
        );
        let sex = self.rng.pick(&["M", "F", "U"]);
        let addr = self.address();
        let phone = format!(
            "^PRN^PH^^1^{}^{}",
            self.rng.range(200, 999),
            self.rng.range(2_000_000, 9_999_999)
        );
        let ssn = self.rng.range(100_000_000, 899_999_999);
        format!(
            "PID|1||{mrn}^^^GENHOSP&2.16.840.1.113883.3.72.5.9.1&ISO^MR^GENHOSP~{ssn}^^^SSA&2.16.840.1.113883.4.1&ISO^SS||{family}^{given}^{middle}^^^^L||{dob}|{sex}||2106-3^White^CDCREC|{addr}||{phone}|||M^Married^HL70002|CHR^Christian^HL70006|{}^^^GENHOSP&2.16.840.1.113883.3.72.5.9.1&ISO^AN||||N^Not Hispanic or Latino^HL70189",
            self.rng.range(10_000_000, 99_999_999)
        )
    }

    fn pv1(&mut self) -> String {
        let unit = self.rng.pick(UNITS);
        let room = self.rng.range(100, 699);
        let bed = self.rng.pick(&["A", "B", "C"]);
        let attending = self.rng.pick(DOCTORS);
        let referring = self.rng.pick(DOCTORS);
        let ts = self.ts();
        format!(
            "PV1|1|{}|{unit}^{room}^{bed}^GENHOSP&2.16.840.1.113883.3.72.5.20&ISO^^^MAIN^{}||||{attending}|{referring}||MED|||||||{attending}|{}|{}^^^GENHOSP&2.16.840.1.113883.3.72.5.9.1&ISO^VN|||||||||||||||||||||||||{ts}",
            self.rng.pick(&["I", "O", "E"]),
            self.rng.range(1, 6),
            self.rng.pick(&["IP", "OP", "ER"]),
            self.rng.range(100_000_000, 999_999_999)
        )
    }

    fn nte(&mut self, n: usize) -> String {
        format!("NTE|{n}|L|{}", self.rng.pick(COMMENTS))
    }

    fn adt(&mut self) -> Vec<String> {
        let event = self.rng.pick(&["A01", "A04", "A08"]);
        let structure = "ADT_A01";
        let mut segs = vec![self.msh(&format!("ADT^{event}^{structure}"))];
        let ts = self.ts();
        segs.push(format!("EVN|{event}|{ts}|||{}", self.rng.pick(DOCTORS)));
        segs.push(self.pid());
        for i in 1..=self.rng.range(0, 3) {
            let (family, given, middle) = self.person();
            let addr = self.address();
            segs.push(format!(
                "NK1|{i}|{family}^{given}^{middle}|{}|{addr}|^PRN^PH^^1^555^{}",
                self.rng.pick(&[
                    "SPO^Spouse^HL70063",
                    "CHD^Child^HL70063",
                    "PAR^Parent^HL70063"
                ]),
                self.rng.range(1_000_000, 9_999_999)
            ));
        }
        segs.push(self.pv1());
        segs.push(format!(
            "PV2|||{}||||||{}",
            self.rng.pick(DIAGNOSES),
            self.ts()
        ));
        for i in 1..=self.rng.range(0, 4) {
            segs.push(format!(
                "AL1|{i}|DA|{}|{}|{}",
                self.rng.pick(ALLERGIES),
                self.rng.pick(&[
                    "SV^Severe^HL70128",
                    "MO^Moderate^HL70128",
                    "MI^Mild^HL70128"
                ]),
                self.rng
                    .pick(&["Hives", "Anaphylaxis", "Rash~Itching", "Nausea"])
            ));
        }
        for i in 1..=self.rng.range(1, 5) {
            segs.push(format!(
                "DG1|{i}||{}||{}|{}",
                self.rng.pick(DIAGNOSES),
                self.ts(),
                self.rng.pick(&["A", "W", "F"])
            ));
        }
        for i in 1..=self.rng.range(0, 2) {
            segs.push(format!(
                "IN1|{i}|{}^{}|{}^^^NAIC&2.16.840.1.113883.6.300&ISO^NIIP|{} HEALTH PLAN|PO BOX {}^^HARTFORD^CT^06101^USA||^WPN^PH^^1^800^{}|GRP{}|||||{}|{}||||||||||||||||||||||{}",
                self.rng.range(1, 99),
                self.rng.pick(&["PPO", "HMO", "EPO"]),
                self.rng.range(10_000, 99_999),
                self.rng.pick(&["ACME", "BLUE RIVER", "UNITED CARE", "CIGNAL"]),
                self.rng.range(100, 9_999),
                self.rng.range(1_000_000, 9_999_999),
                self.rng.range(1_000, 99_999),
                &self.ts()[..8],
                &self.ts()[..8],
                self.rng.range(100_000_000, 999_999_999)
            ));
        }
        segs
    }

    fn obx(&mut self, n: usize) -> String {
        let ts = self.ts();
        match self.rng.range(0, 9) {
            0 => format!(
                "OBX|{n}|CE|{}^Culture result^LN||{}||||||F|||{ts}|GENLAB^General Hospital Laboratory^CLIA^05D0001234",
                self.rng.pick(&["600-7", "630-4", "5778-6"]),
                self.rng.pick(CE_VALUES)
            ),
            1 => format!(
                "OBX|{n}|ST|5778-6^Color of Urine^LN||{}||||||F|||{ts}|GENLAB^General Hospital Laboratory^CLIA^05D0001234",
                self.rng.pick(&["Yellow", "Amber", "Straw", "Red-brown"])
            ),
            _ => {
                let (code, text, units, range, lo, hi) =
                    NM_TESTS[(self.rng.next_u64() % NM_TESTS.len() as u64) as usize];
                let span = ((hi - lo) * 10.0) as u64;
                let value = lo + (self.rng.range(0, span) as f64) / 10.0;
                let flag = self.rng.pick(&["N", "N", "N", "H", "L", "HH"]);
                format!(
                    "OBX|{n}|NM|{code}^{text}^LN||{value:.1}|{units}^{units}^UCUM|{range}|{flag}|||F|||{ts}|GENLAB^General Hospital Laboratory^CLIA^05D0001234||{}^Auto-verified^L|{ts}",
                    self.rng.pick(&["AUTO", "MANUAL"])
                )
            }
        }
    }

    fn oru(&mut self) -> Vec<String> {
        let mut segs = vec![self.msh("ORU^R01^ORU_R01")];
        segs.push(self.pid());
        segs.push(self.pv1());
        let placer = self.rng.range(1_000_000, 9_999_999);
        let filler = self.rng.range(1_000_000, 9_999_999);
        let doctor = self.rng.pick(DOCTORS);
        let ts = self.ts();
        segs.push(format!(
            "ORC|RE|{placer}^EPIC|{filler}^LAB||CM||||{ts}|||{doctor}"
        ));
        segs.push(format!(
            "OBR|1|{placer}^EPIC|{filler}^LAB|{}|||{ts}|||||||{ts}|BLDV^Blood venous^HL70070|{doctor}||||||{ts}|||F",
            self.rng.pick(&[
                "24323-8^Comprehensive metabolic 2000 panel - Serum or Plasma^LN",
                "58410-2^CBC panel - Blood by Automated count^LN",
                "24326-1^Electrolytes 1998 panel - Serum or Plasma^LN",
            ])
        ));
        let count = self.rng.range(10, 30) as usize;
        for n in 1..=count {
            segs.push(self.obx(n));
            if self.rng.chance(12) {
                segs.push(self.nte(1));
            }
        }
        // A few long reports make the 6-8 KB tail.
        if self.rng.chance(10) {
            for n in 1..=self.rng.range(5, 25) as usize {
                segs.push(self.nte(n));
            }
        }
        segs
    }

    fn orm(&mut self) -> Vec<String> {
        let mut segs = vec![self.msh("ORM^O01^ORM_O01")];
        segs.push(self.pid());
        segs.push(self.pv1());
        for i in 1..=self.rng.range(1, 4) {
            let placer = self.rng.range(1_000_000, 9_999_999);
            let doctor = self.rng.pick(DOCTORS);
            let ts = self.ts();
            segs.push(format!(
                "ORC|NW|{placer}^EPIC|||||^^^{ts}^^R||{ts}|{doctor}||{doctor}|{}^^^GENHOSP",
                self.rng.pick(UNITS)
            ));
            segs.push(format!(
                "OBR|{i}|{placer}^EPIC||{}|R|{ts}|{ts}|||||||{ts}|SER^Serum^HL70070|{doctor}|^WPN^PH^^1^555^1234567",
                self.rng.pick(&[
                    "24323-8^Comprehensive metabolic 2000 panel - Serum or Plasma^LN",
                    "58410-2^CBC panel - Blood by Automated count^LN",
                    "2093-3^Cholesterol [Mass/volume] in Serum or Plasma^LN",
                ])
            ));
            // ORM_O01's order detail: OBR, its notes, then its diagnoses.
            if self.rng.chance(40) {
                segs.push(self.nte(1));
            }
            segs.push(format!("DG1|1||{}||{ts}|W", self.rng.pick(DIAGNOSES)));
        }
        segs
    }

    fn rde(&mut self) -> Vec<String> {
        let mut segs = vec![self.msh("RDE^O11^RDE_O11")];
        segs.push(self.pid());
        segs.push(self.pv1());
        // Allergies belong to the patient, after the visit.
        for i in 1..=self.rng.range(0, 3) {
            segs.push(format!(
                "AL1|{i}|DA|{}|MO^Moderate^HL70128|Rash",
                self.rng.pick(ALLERGIES)
            ));
        }
        for i in 1..=self.rng.range(1, 4) {
            let (code, text, strength) = DRUGS[(self.rng.next_u64() % DRUGS.len() as u64) as usize];
            let placer = self.rng.range(1_000_000, 9_999_999);
            let doctor = self.rng.pick(DOCTORS);
            let ts = self.ts();
            segs.push(format!(
                "ORC|NW|{placer}^EPIC|||||^{}^^{ts}^^R||{ts}|||{doctor}",
                self.rng.pick(&["Q8H", "BID", "QD", "PRN"])
            ));
            segs.push(format!(
                "RXE|^{}^^{ts}^^R|{code}^{text}^RXNORM|{strength}||mg^milligram^UCUM|TAB^Tablet^HL70292|^Take with food\\.br\\Do not crush|||{}|TAB^Tablet^HL70292|{}|{doctor}|RX{placer}|||||||||||||||||||||||",
                self.rng.pick(&["Q8H", "BID", "QD", "PRN"]),
                self.rng.range(10, 90),
                self.rng.range(0, 5)
            ));
            // RDE_O11 puts the encoded timing (TQ1) between RXE and the routes (RXR).
            segs.push(format!(
                "TQ1|{i}||{}||||{ts}",
                self.rng.pick(&["Q8H", "BID", "QD"])
            ));
            segs.push(format!(
                "RXR|PO^Oral^HL70162|{}",
                self.rng.pick(&["", "LA^Left arm^HL70163"])
            ));
        }
        segs
    }
}

/// `count` messages of a hospital mix (about 35 % ADT, 40 % ORU, 15 % ORM, 10 % RDE), each
/// ended by `\r`. Deterministic: the same `count` always gives the same messages.
pub fn hospital_mix(count: usize) -> Vec<String> {
    let mut ctx = Ctx {
        rng: Rng::new(0x00C0_FFEE_1234_5678),
        seq: 0,
    };
    (0..count)
        .map(|_| {
            let kind = ctx.rng.range(0, 99);
            let segs = if kind < 35 {
                ctx.adt()
            } else if kind < 75 {
                ctx.oru()
            } else if kind < 90 {
                ctx.orm()
            } else {
                ctx.rde()
            };
            let mut segs = segs;
            // Keep within 8 KB: drop trailing result/comment segments of very long reports.
            while segs.iter().map(|s| s.len() + 1).sum::<usize>() > 8000 && segs.len() > 6 {
                segs.pop();
            }
            let mut text = segs.join("\r");
            text.push('\r');
            text
        })
        .collect()
}
