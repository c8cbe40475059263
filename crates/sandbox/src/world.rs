//! The seeded MSP both emulators serve: one list of customers, each known to ConnectWise as a company
//! (with agreements) and, for most of them, to Sophos as a tenant (with monthly usage).
//!
//! Names are realistic on purpose: accents, apostrophes, quotes, legal suffixes, and near-duplicates. The
//! Sophos-side name of a customer is often *not* the ConnectWise name (case, accents stripped, a suffix
//! added or dropped, a typo), because that is what mapping has to cope with in the field.
//!
//! Everything is a pure function of [`WorldConfig`]: the same config gives byte-identical data.

use rand::seq::IndexedRandom;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde::Serialize;
use std::collections::BTreeSet;

/// What to generate.
#[derive(Debug, Clone, Serialize)]
pub struct WorldConfig {
    /// Seed of every random choice.
    pub seed: u64,
    /// Customers that are both a ConnectWise company and a Sophos tenant.
    pub customers: usize,
    /// ConnectWise companies with no Sophos tenant (the MSP's other customers).
    pub extra_companies: usize,
    /// Sophos tenants with no ConnectWise company (forgotten or new customers).
    pub extra_tenants: usize,
    /// The newest billing month with usage, as (year, month 1..=12). Usage exists for this month and the
    /// two before it; any other month has no data (the Sophos API answers 404).
    pub usage_anchor: (i16, i8),
}

impl WorldConfig {
    /// A small MSP, the demo's default.
    pub fn demo(seed: u64, usage_anchor: (i16, i8)) -> Self {
        Self {
            seed,
            customers: 36,
            extra_companies: 6,
            extra_tenants: 4,
            usage_anchor,
        }
    }
}

/// How a customer's Sophos tenant name differs from its ConnectWise company name.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum NameVariant {
    /// The tenant has exactly the company's name.
    Same,
    /// The company's name in all upper or all lower case.
    Case,
    /// The company's name with its accented letters replaced by plain ones.
    AccentsStripped,
    /// The company's name without its legal suffix (`Acme Dental` for `Acme Dental LLC`).
    SuffixDropped,
    /// The suffix's last spelling (`Incorporated` for `Inc`), or a suffix added when the company has none.
    SuffixAdded,
    /// Another spelling of the suffix (`Ltda.` for `Ltda`), or `, Inc.`, `, Ltda.` or `, LLC` appended
    /// when the company has none.
    SuffixChanged,
    /// `&` spelled `and` and quotes, apostrophes and dots removed (or spaces turned into hyphens).
    Punctuation,
    /// Two adjacent letters swapped (a dot appended when no pair can be swapped).
    Typo,
}

/// Sophos billing type of a tenant (`billingType`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum BillingType {
    /// Monthly, MSP Flex: has usage lines, alerts readable.
    Usage,
    /// Term licence with Partner Assistance: alerts readable, no usage lines.
    Term,
    /// Term licence without Partner Assistance: alerts answer 403.
    TermNoAssistance,
    /// Trial: alerts answer 403.
    Trial,
}

impl BillingType {
    /// The value of the tenant's `billingType` field.
    pub fn wire(self) -> &'static str {
        match self {
            Self::Usage => "usage",
            Self::Term | Self::TermNoAssistance => "term",
            Self::Trial => "trial",
        }
    }

    /// Whether the partner may read this tenant's alerts.
    pub fn alerts_readable(self) -> bool {
        matches!(self, Self::Usage | Self::Term)
    }
}

/// One ConnectWise agreement of a company.
#[derive(Debug, Clone, Serialize)]
pub struct AgreementSeed {
    /// The agreement's `name`, e.g. `Managed Services` or `Sophos MDR (old)`; not unique per company.
    pub name: String,
    /// `Active`, `Cancelled`, `Expired` or `Inactive`.
    pub status: &'static str,
    /// Agreement type name (one of [`AGREEMENT_TYPES`]).
    pub type_name: &'static str,
    /// Billing cycle name: `Monthly`, or `None` for an agreement that is not billed on a cycle.
    pub billing_cycle: &'static str,
}

/// One ConnectWise company.
#[derive(Debug, Clone, Serialize)]
pub struct CompanySeed {
    /// `identifier` (≤ 30 characters, unique).
    pub identifier: String,
    /// `name` (≤ 50 characters).
    pub name: String,
    /// In the recycle bin (`deletedFlag`).
    pub deleted: bool,
    /// Company status name: `Active` or `Inactive`.
    pub status: &'static str,
    /// The address `city` (ConnectWise needs one address field on a company).
    pub city: &'static str,
    /// The company's agreements, zero to three; empty means the company has none.
    pub agreements: Vec<AgreementSeed>,
}

/// One Sophos tenant.
#[derive(Debug, Clone, Serialize)]
pub struct TenantSeed {
    /// UUID string, deterministic.
    pub id: String,
    /// The tenant's `name` in Sophos (≤ 100 characters): for a customer, its company name changed as
    /// [`Customer::variant`] says; for a tenant without a company, a name of its own.
    pub name: String,
    /// `dataRegion`, e.g. `eu01`.
    pub region: &'static str,
    /// `dataGeography`, e.g. `EU`.
    pub geography: &'static str,
    /// The tenant's billing type: decides whether it has usage lines and readable alerts.
    pub billing: BillingType,
    /// Billing codes this tenant uses each month: (index into [`BILLING_CODES`], base quantity).
    pub usage: Vec<(usize, u32)>,
    /// Managed devices: (name, `computer` | `server`).
    pub devices: Vec<(String, &'static str)>,
}

/// A customer of the MSP. At least one side is present.
#[derive(Debug, Clone, Serialize)]
pub struct Customer {
    /// The customer as a ConnectWise company; `None` for a tenant without a company.
    pub company: Option<CompanySeed>,
    /// The customer as a Sophos tenant; `None` for a company without a tenant.
    pub tenant: Option<TenantSeed>,
    /// How the tenant name was derived from the company name (when both exist).
    pub variant: Option<NameVariant>,
}

/// The whole MSP.
#[derive(Debug, Clone, Serialize)]
pub struct World {
    /// The configuration the world was generated from.
    pub config: WorldConfig,
    /// The MSP's Sophos partner id (a UUID): whoami's `id` and the `X-Partner-ID` value.
    pub partner_id: String,
    /// The MSP's name: billing's `partnerAccountName` and ConnectWise's `CompanyName`.
    pub partner_name: String,
    /// The MSP's `partnerEdiAccountNumber` on billing lines.
    pub partner_edi_account: String,
    /// Every customer: first both-sided ones, then companies without a tenant, then tenants without a
    /// company.
    pub customers: Vec<Customer>,
}

/// A Sophos billing code as the emulated billing API reports it.
#[derive(Debug, Clone, Copy, Serialize)]
pub struct BillingCode {
    /// The line's `productCode`, e.g. `CIXA-MSP`.
    pub product_code: &'static str,
    /// The line's `sku`, e.g. `CEAZ1CSMG`.
    pub sku: &'static str,
    /// The line's `productDescription`, ending in ` - MSP Monthly`.
    pub description: &'static str,
    /// The line's `productGroup`, e.g. `User`, `Server`, `Firewall`.
    pub group: &'static str,
}

/// The emulated Sophos's billing codes. The first rows correspond to the products of the integration's
/// product table; the last few are codes that table does not know (firewall and e-mail licences), so a
/// usage sync must report them as unmapped.
pub const BILLING_CODES: &[BillingCode] = &[
    BillingCode {
        product_code: "CEP-MSP",
        sku: "CEPZ1CSMG",
        description: "Central Endpoint Protection - MSP Monthly",
        group: "User",
    },
    BillingCode {
        product_code: "CIX-MSP",
        sku: "CIXZ1CSMG",
        description: "Central Intercept X - MSP Monthly",
        group: "User",
    },
    BillingCode {
        product_code: "CIXA-MSP",
        sku: "CEAZ1CSMG",
        description: "Central Intercept X Advanced - MSP Monthly",
        group: "User",
    },
    BillingCode {
        product_code: "CIXA-MSP-USR",
        sku: "CEAZ1CUMG",
        description: "Central Intercept X Advanced per User - MSP Monthly",
        group: "User",
    },
    BillingCode {
        product_code: "XDR-MSP",
        sku: "XDRZ1CSMG",
        description: "Central Intercept X Advanced with XDR - MSP Monthly",
        group: "User",
    },
    BillingCode {
        product_code: "MTRS-MSP",
        sku: "MTSZ1CSMG",
        description: "Central Intercept X Advanced with XDR and MTR Standard - MSP Monthly",
        group: "User",
    },
    BillingCode {
        product_code: "MTRA-MSP",
        sku: "MTAZ1CSMG",
        description: "Central Intercept X Advanced with XDR and MTR Advanced - MSP Monthly",
        group: "User",
    },
    BillingCode {
        product_code: "SMCS-MSP",
        sku: "SMSZ1CSMG",
        description: "Central Mobile Control Standard - MSP Monthly",
        group: "User",
    },
    BillingCode {
        product_code: "SMCA-MSP",
        sku: "SMAZ1CSMG",
        description: "Central Mobile Control Advanced - MSP Monthly",
        group: "User",
    },
    BillingCode {
        product_code: "EMPE-MSP",
        sku: "EPEZ1CSMG",
        description: "Central Portal Encryption Add-on for Email Advanced - MSP Monthly",
        group: "User",
    },
    BillingCode {
        product_code: "SMSEC-MSP",
        sku: "SMYZ1CSMG",
        description: "Central Mobile Security - MSP Monthly",
        group: "User",
    },
    BillingCode {
        product_code: "SVRP-MSP",
        sku: "SVPZ1CSMG",
        description: "Central Server Protection - MSP Monthly",
        group: "Server",
    },
    BillingCode {
        product_code: "SVRIXA-MSP",
        sku: "SVAZ1CSMG",
        description: "Central Intercept X Advanced for Server - MSP Monthly",
        group: "Server",
    },
    BillingCode {
        product_code: "SVRXDR-MSP",
        sku: "SVXZ1CSMG",
        description: "Central Intercept X Advanced for Server with XDR - MSP Monthly",
        group: "Server",
    },
    BillingCode {
        product_code: "SVRMTRS-MSP",
        sku: "SVSZ1CSMG",
        description: "Intercept X Advanced for Server with XDR and MTR Standard - MSP Monthly",
        group: "Server",
    },
    BillingCode {
        product_code: "SVRMTRA-MSP",
        sku: "SVMZ1CSMG",
        description: "Intercept X Advanced for Server with XDR and MTR Advanced - MSP Monthly",
        group: "Server",
    },
    BillingCode {
        product_code: "CDE-MSP",
        sku: "CDEZ1CSMG",
        description: "Central Device Encryption - MSP Monthly",
        group: "User",
    },
    BillingCode {
        product_code: "PHT-MSP",
        sku: "PHTZ1CSMG",
        description: "Central Phish Threat - MSP Monthly",
        group: "User",
    },
    BillingCode {
        product_code: "WPS-MSP",
        sku: "WPSZ1CSMG",
        description: "Wireless Performance Standard - MSP Monthly",
        group: "Access Point",
    },
    BillingCode {
        product_code: "WES-MSP",
        sku: "WESZ1CSMG",
        description: "Wireless Entry Standard - MSP Monthly",
        group: "Access Point",
    },
    // Codes the integration's product table does not know.
    BillingCode {
        product_code: "XGS-FW-MSP",
        sku: "XGFZ1CSMG",
        description: "XGS Firewall Xstream Protection - MSP Monthly",
        group: "Firewall",
    },
    BillingCode {
        product_code: "CEMA-MSP",
        sku: "EMAZ1CSMG",
        description: "Central Email Advanced - MSP Monthly",
        group: "User",
    },
    BillingCode {
        product_code: "ZTNA-MSP",
        sku: "ZTNZ1CSMG",
        description: "Central ZTNA - MSP Monthly",
        group: "User",
    },
];

/// Number of leading rows of [`BILLING_CODES`] that the integration's product table knows.
pub const KNOWN_BILLING_CODES: usize = 20;

/// Agreement type names the ConnectWise emulator seeds.
pub const AGREEMENT_TYPES: &[&str] = &["Managed Services", "Security", "Block Time", "Break/Fix"];

/// ConnectWise cities for company addresses (a company needs one address field).
const CITIES: &[&str] = &[
    "São Paulo",
    "Curitiba",
    "Porto Alegre",
    "Belo Horizonte",
    "Lisboa",
    "Austin",
    "Denver",
    "Leeds",
    "München",
    "Köln",
    "Dublin",
    "Toronto",
    "Perth",
    "Cork",
    "Recife",
    "Florianópolis",
];

const REGIONS: &[(&str, &str)] = &[
    ("us01", "US"),
    ("us03", "US"),
    ("eu01", "EU"),
    ("eu02", "DE"),
    ("ca01", "CA"),
    ("au01", "AU"),
    ("jp01", "JP"),
    ("br01", "BR"),
    ("in01", "IN"),
];

/// First words of company names: surnames, places, invented brands. Several carry accents, apostrophes
/// or quotes on purpose.
const FIRST: &[&str] = &[
    "Acme",
    "Blue Ridge",
    "O'Brien",
    "São João",
    "Müller",
    "Løvberg",
    "Ipê",
    "Araújo",
    "Concórdia",
    "Pinnacle",
    "Harbor",
    "Northwind",
    "Contoso",
    "Fabrikam",
    "Tailspin",
    "Woodgrove",
    "Litware",
    "Adventure",
    "Alpine",
    "Cascade",
    "Granite",
    "Summit",
    "Redwood",
    "Bellweather",
    "Coho",
    "Lamna",
    "Margie's",
    "Wingtip",
    "Proseware",
    "Trey",
    "Humongous",
    "Lucerne",
    "Wide World",
    "Datum",
    "Fourth Coffee",
    "Graphic",
    "Southridge",
    "Vanarsdel",
    "Relecloud",
    "Bayview",
    "Crestline",
    "Évora",
    "Açaí",
    "Gonçalves",
    "Schröder",
    "Zürich",
    "Brønnøy",
    "Québec",
    "D'Angelo",
    "McAllister",
    "St. Mary's",
    "Smith & Sons",
    "Baker \"Tech\"",
    "Ribeirão",
    "Três Rios",
    "Niterói",
    "Jundiaí",
    "Oakridge",
    "Riverside",
    "Silverline",
    "Kingsbridge",
    "Maplewood",
    "Eastgate",
    "Westbrook",
];

/// Second words: what the company does.
const SECOND: &[&str] = &[
    "Dental",
    "Legal",
    "Accounting",
    "Logistics",
    "Engineering",
    "Construction",
    "Clinic",
    "Pharmacy",
    "Realty",
    "Insurance",
    "Manufacturing",
    "Contabilidade",
    "Advocacia",
    "Transportes",
    "Construtora",
    "Maschinenbau",
    "Consulting",
    "Architects",
    "Veterinary",
    "School",
    "Bakery",
    "Motors",
    "Hotels",
    "Foods",
    "Imports",
    "Textiles",
    "Labs",
    "Partners",
    "Capital",
    "Media",
    "Energy",
    "Farms",
    "Distribuidora",
    "Comércio",
    "Serviços",
    "Holdings",
];

/// Legal suffixes, with the spellings that differ between systems.
const SUFFIXES: &[&[&str]] = &[
    &["Ltda", "Ltda.", "LTDA"],
    &["LLC", "L.L.C.", "Llc"],
    &["Inc", "Inc.", "Incorporated"],
    &["GmbH", "Gmbh"],
    &["Ltd", "Ltd.", "Limited"],
    &["S.A.", "SA"],
    &["Co.", "Co"],
    &["PLC", "plc"],
    &["Pty Ltd", "Pty. Ltd."],
    &["ME", "EIRELI"],
];

const AGREEMENT_NAMES: &[&str] = &[
    "Managed Services",
    "Sophos MDR",
    "Security Bundle",
    "Endpoint Protection",
    "Monthly Support",
    "Managed Security",
    "Backup & Security",
    "Gold Support",
];

const DEVICE_PREFIX: &[&str] = &[
    "PC",
    "LT",
    "WS",
    "DESKTOP",
    "LAPTOP",
    "RECEPCAO",
    "FINANCEIRO",
    "BÜRO",
];

impl World {
    /// Generates the MSP for `config`.
    pub fn generate(config: WorldConfig) -> Self {
        let mut rng = ChaCha8Rng::seed_from_u64(config.seed);
        let partner_id = uuid_from(&mut rng);
        let mut used_names = BTreeSet::new();
        let mut used_identifiers = BTreeSet::new();
        let total = config.customers + config.extra_companies + config.extra_tenants;
        let mut customers = Vec::with_capacity(total);
        let mut bases: Vec<String> = Vec::with_capacity(config.customers);
        for i in 0..total {
            let (mut base, suffix_group) = unique_base(&mut rng, &mut used_names);
            let has_company = i < config.customers + config.extra_companies;
            let has_tenant = i < config.customers || i >= config.customers + config.extra_companies;
            if i < config.customers {
                bases.push(base.clone());
            } else if has_company && i % 2 == 0 && !bases.is_empty() {
                // Every other extra company is a near-duplicate of a customer's company ("Acme Dental"
                // and "Acme Dental Holdings"), as real PSAs have. Derived without the RNG, so every other
                // generated value stays the same.
                base = near_duplicate(&bases[(i * 7) % bases.len()], i);
            }
            let suffix = suffix_group.map(|g| g[0]);
            let company_name = clip(&join_name(&base, suffix), 50);
            let company = has_company.then(|| {
                let identifier = unique_identifier(&base, &mut used_identifiers);
                let deleted = rng.random_ratio(1, 40);
                let status = if rng.random_ratio(1, 25) {
                    "Inactive"
                } else {
                    "Active"
                };
                let n_agreements = match rng.random_range(0..10) {
                    0 => 0,
                    1..=6 => 1,
                    7..=8 => 2,
                    _ => 3,
                };
                let agreements = (0..n_agreements)
                    .map(|k| {
                        let status = match rng.random_range(0..20) {
                            0..=1 => "Cancelled",
                            2 => "Expired",
                            _ => "Active",
                        };
                        AgreementSeed {
                            name: (*AGREEMENT_NAMES.choose(&mut rng).expect("non-empty"))
                                .to_owned()
                                + if k > 0 && rng.random_bool(0.3) {
                                    " (old)"
                                } else {
                                    ""
                                },
                            status,
                            type_name: AGREEMENT_TYPES.choose(&mut rng).expect("non-empty"),
                            billing_cycle: if rng.random_ratio(1, 10) {
                                "None"
                            } else {
                                "Monthly"
                            },
                        }
                    })
                    .collect();
                CompanySeed {
                    identifier,
                    name: company_name.clone(),
                    deleted,
                    status,
                    city: CITIES.choose(&mut rng).expect("non-empty"),
                    agreements,
                }
            });
            let (tenant, variant) = if has_tenant {
                let variant = if has_company {
                    Some(pick_variant(&mut rng))
                } else {
                    None
                };
                let name = match variant {
                    Some(v) => clip(&vary(&mut rng, &base, suffix_group, v), 100),
                    None => company_name.clone(),
                };
                let (region, geography) = *REGIONS.choose(&mut rng).expect("non-empty");
                let billing = match rng.random_range(0..20) {
                    0..=13 => BillingType::Usage,
                    14..=16 => BillingType::Term,
                    17..=18 => BillingType::TermNoAssistance,
                    _ => BillingType::Trial,
                };
                let usage = if billing == BillingType::Usage {
                    usage_for(&mut rng)
                } else {
                    Vec::new()
                };
                let n_devices = rng.random_range(3..=12);
                let devices = (0..n_devices)
                    .map(|d| {
                        if d % 5 == 4 {
                            (format!("SRV-{:02}", d + 1), "server")
                        } else {
                            let prefix = DEVICE_PREFIX.choose(&mut rng).expect("non-empty");
                            (
                                format!("{prefix}-{:03}", rng.random_range(1..=400)),
                                "computer",
                            )
                        }
                    })
                    .collect();
                let tenant = TenantSeed {
                    id: uuid_from(&mut rng),
                    name,
                    region,
                    geography,
                    billing,
                    usage,
                    devices,
                };
                (Some(tenant), variant)
            } else {
                (None, None)
            };
            customers.push(Customer {
                company,
                tenant,
                variant,
            });
        }
        World {
            config,
            partner_id,
            partner_name: "Bridgewater Managed IT".to_owned(),
            partner_edi_account: "1000001".to_owned(),
            customers,
        }
    }

    /// The ConnectWise companies, in generation order.
    pub fn companies(&self) -> impl Iterator<Item = &CompanySeed> {
        self.customers.iter().filter_map(|c| c.company.as_ref())
    }

    /// The Sophos tenants, in generation order.
    pub fn tenants(&self) -> impl Iterator<Item = &TenantSeed> {
        self.customers.iter().filter_map(|c| c.tenant.as_ref())
    }

    /// Whether `(year, month)` has usage data.
    pub fn has_usage_month(&self, year: i16, month: i8) -> bool {
        let (ay, am) = self.config.usage_anchor;
        let anchor = i32::from(ay) * 12 + i32::from(am) - 1;
        let asked = i32::from(year) * 12 + i32::from(month) - 1;
        (anchor - 2..=anchor).contains(&asked)
    }

    /// The billable quantity of `tenant`'s usage row `row` in `(year, month)`: the base quantity,
    /// varied a little from month to month so a re-sync of another month changes quantities.
    pub fn monthly_quantity(&self, tenant: &TenantSeed, row: usize, year: i16, month: i8) -> u32 {
        let (_, base) = tenant.usage[row];
        let (ay, am) = self.config.usage_anchor;
        let back = (i32::from(ay) * 12 + i32::from(am)) - (i32::from(year) * 12 + i32::from(month));
        // Older months had a little less usage; deterministic, never below 1.
        let back = u32::try_from(back.max(0)).unwrap_or(0);
        base.saturating_sub(back * (1 + (row as u32 % 3))).max(1)
    }
}

fn usage_for(rng: &mut ChaCha8Rng) -> Vec<(usize, u32)> {
    let mut rows = Vec::new();
    // About six products per usage customer, sometimes one unknown code.
    let n = rng.random_range(4..=8);
    let mut picked = BTreeSet::new();
    while picked.len() < n {
        picked.insert(rng.random_range(0..KNOWN_BILLING_CODES));
    }
    if rng.random_ratio(1, 6) {
        picked.insert(rng.random_range(KNOWN_BILLING_CODES..BILLING_CODES.len()));
    }
    for code in picked {
        rows.push((code, rng.random_range(1..=180)));
        // Some products are bought on two orders: two lines for the same code.
        if rng.random_ratio(1, 12) {
            rows.push((code, rng.random_range(1..=20)));
        }
    }
    rows
}

fn pick_variant(rng: &mut ChaCha8Rng) -> NameVariant {
    match rng.random_range(0..20) {
        0..=6 => NameVariant::Same,
        7..=8 => NameVariant::Case,
        9..=10 => NameVariant::AccentsStripped,
        11..=12 => NameVariant::SuffixDropped,
        13 => NameVariant::SuffixAdded,
        14..=15 => NameVariant::SuffixChanged,
        16..=17 => NameVariant::Punctuation,
        _ => NameVariant::Typo,
    }
}

fn unique_base(
    rng: &mut ChaCha8Rng,
    used: &mut BTreeSet<String>,
) -> (String, Option<&'static [&'static str]>) {
    for attempt in 0.. {
        let first = FIRST.choose(rng).expect("non-empty");
        let second = SECOND.choose(rng).expect("non-empty");
        let mut base = format!("{first} {second}");
        if attempt > 200 {
            base = format!("{base} {}", attempt % 97 + 2);
        }
        if used.insert(fold(&base)) {
            let suffix = if rng.random_ratio(2, 3) {
                Some(*SUFFIXES.choose(rng).expect("non-empty"))
            } else {
                None
            };
            return (base, suffix);
        }
    }
    unreachable!("the loop returns")
}

fn unique_identifier(base: &str, used: &mut BTreeSet<String>) -> String {
    let stem: String = strip_accents(base)
        .chars()
        .filter(char::is_ascii_alphanumeric)
        .take(24)
        .collect();
    let mut candidate = stem.clone();
    let mut n = 2;
    while !used.insert(candidate.to_ascii_lowercase()) {
        candidate = format!("{stem}{n}");
        n += 1;
    }
    candidate
}

/// A name close to `base` but not the same company.
fn near_duplicate(base: &str, i: usize) -> String {
    const QUALIFIERS: &[&str] = &["Holdings", "Group", "Filial Sul", "Services"];
    format!("{base} {}", QUALIFIERS[i % QUALIFIERS.len()])
}

fn join_name(base: &str, suffix: Option<&str>) -> String {
    match suffix {
        Some(s) => format!("{base} {s}"),
        None => base.to_owned(),
    }
}

fn vary(
    rng: &mut ChaCha8Rng,
    base: &str,
    suffix: Option<&'static [&'static str]>,
    variant: NameVariant,
) -> String {
    let canonical = join_name(base, suffix.map(|g| g[0]));
    match variant {
        NameVariant::Same => canonical,
        NameVariant::Case => {
            if rng.random_bool(0.5) {
                canonical.to_uppercase()
            } else {
                canonical.to_lowercase()
            }
        }
        NameVariant::AccentsStripped => strip_accents(&canonical),
        NameVariant::SuffixDropped => base.to_owned(),
        NameVariant::SuffixAdded => match suffix {
            Some(g) => join_name(base, Some(g[g.len() - 1])),
            None => join_name(base, Some(SUFFIXES.choose(rng).expect("non-empty")[0])),
        },
        NameVariant::SuffixChanged => match suffix {
            Some(g) if g.len() > 1 => join_name(base, Some(g[rng.random_range(1..g.len())])),
            _ => format!(
                "{base}, {}",
                ["Inc.", "Ltda.", "LLC"].choose(rng).expect("non-empty")
            ),
        },
        NameVariant::Punctuation => {
            let p = canonical
                .replace(" & ", " and ")
                .replace(['\'', '"', '.'], "");
            if p == canonical {
                canonical.replace(' ', "-")
            } else {
                p
            }
        }
        NameVariant::Typo => typo(rng, &canonical),
    }
}

/// Swaps two adjacent letters inside the first word longer than four letters.
fn typo(rng: &mut ChaCha8Rng, name: &str) -> String {
    let chars: Vec<char> = name.chars().collect();
    let candidates: Vec<usize> = (1..chars.len().saturating_sub(2))
        .filter(|&i| {
            chars[i].is_alphabetic() && chars[i + 1].is_alphabetic() && chars[i] != chars[i + 1]
        })
        .collect();
    match candidates.choose(rng) {
        Some(&i) => {
            let mut c = chars;
            c.swap(i, i + 1);
            c.into_iter().collect()
        }
        None => format!("{name}."),
    }
}

fn clip(s: &str, max_chars: usize) -> String {
    s.chars()
        .take(max_chars)
        .collect::<String>()
        .trim_end()
        .to_owned()
}

/// Lower-case, accent-free key for uniqueness checks.
fn fold(s: &str) -> String {
    strip_accents(s).to_lowercase()
}

/// Replaces the accented Latin letters the generator uses with their plain forms.
pub fn strip_accents(s: &str) -> String {
    s.chars()
        .map(|c| match c {
            'á' | 'à' | 'â' | 'ã' | 'ä' => 'a',
            'Á' | 'À' | 'Â' | 'Ã' | 'Ä' => 'A',
            'é' | 'ê' | 'è' | 'ë' => 'e',
            'É' | 'Ê' | 'È' => 'E',
            'í' | 'î' => 'i',
            'Í' => 'I',
            'ó' | 'ô' | 'õ' | 'ö' | 'ø' => 'o',
            'Ó' | 'Ô' | 'Õ' | 'Ö' | 'Ø' => 'O',
            'ú' | 'ü' => 'u',
            'Ú' | 'Ü' => 'U',
            'ç' => 'c',
            'Ç' => 'C',
            'ñ' => 'n',
            other => other,
        })
        .collect()
}

fn uuid_from(rng: &mut ChaCha8Rng) -> String {
    let mut b = [0u8; 16];
    rng.fill(&mut b);
    uuid::Builder::from_random_bytes(b)
        .into_uuid()
        .hyphenated()
        .to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cfg(seed: u64) -> WorldConfig {
        WorldConfig {
            seed,
            customers: 300,
            extra_companies: 20,
            extra_tenants: 10,
            usage_anchor: (2026, 11),
        }
    }

    #[test]
    fn same_seed_same_bytes() {
        let a = serde_json::to_string(&World::generate(cfg(7))).expect("serialises");
        let b = serde_json::to_string(&World::generate(cfg(7))).expect("serialises");
        assert_eq!(a, b);
        let c = serde_json::to_string(&World::generate(cfg(8))).expect("serialises");
        assert_ne!(a, c);
    }

    #[test]
    fn names_fit_and_are_unique() {
        let w = World::generate(cfg(1));
        let mut ids = BTreeSet::new();
        for c in w.companies() {
            assert!(c.name.chars().count() <= 50, "{}", c.name);
            assert!(c.identifier.len() <= 30, "{}", c.identifier);
            assert!(
                ids.insert(c.identifier.to_lowercase()),
                "duplicate identifier {}",
                c.identifier
            );
        }
        assert_eq!(w.companies().count(), 320);
        assert_eq!(w.tenants().count(), 310);
        // Tricky names are present, near-duplicates among them.
        let names: Vec<&str> = w.companies().map(|c| c.name.as_str()).collect();
        assert!(
            names.iter().any(|n| [" Group", " Filial Sul", " Services"]
                .iter()
                .any(|q| n.contains(q))),
            "no near-duplicate company"
        );
        assert!(w.tenants().any(|t| !t.name.is_ascii()));
        assert!(
            w.customers
                .iter()
                .any(|c| c.variant == Some(NameVariant::Typo))
        );
    }

    #[test]
    fn usage_months() {
        let w = World::generate(cfg(1));
        assert!(w.has_usage_month(2026, 11));
        assert!(w.has_usage_month(2026, 9));
        assert!(!w.has_usage_month(2026, 8));
        assert!(!w.has_usage_month(2026, 12));
        let t = w
            .tenants()
            .find(|t| !t.usage.is_empty())
            .expect("a usage tenant");
        assert!(w.monthly_quantity(t, 0, 2026, 11) >= w.monthly_quantity(t, 0, 2026, 9));
    }
}
