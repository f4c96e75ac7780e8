//! Deterministic synthetic enriched events: the shop traffic the project is tested and measured on.
//!
//! A [`Corpus`] yields TSV lines from a seed: page views and pings with the contexts a JavaScript
//! tracker and Enrich attach, and ecommerce events of every flavour, including the variants each mapper
//! skips and a few broken lines. The same seed always gives the same bytes, on every machine.
//!
//! The broken lines are limited to kinds that every reader must reject the same way (a wrong field
//! count, broken JSON in the entity a mapper reads), so that differential tests against the seed's
//! JavaScript pipeline compare like with like.

use serde_json::{Map, Value, json};
use snowplow_enriched::tsv::line_from_fields;

/// The demo file `fixtures/demo/events.tsv` is this many realistic events from [`DEMO_SEED`]
/// (`cargo xtask fixtures` writes it; a test checks it is current).
pub const DEMO_EVENTS: usize = 300;
pub const DEMO_SEED: u64 = 2024;

/// How often each kind of event occurs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mix {
    /// A shop's stream: mostly page pings and page views, about a fifth ecommerce.
    Realistic,
    /// Every kind equally often.
    Uniform,
}

impl Mix {
    /// Every mix, in the order benchmarks take them.
    pub const ALL: [Mix; 2] = [Mix::Realistic, Mix::Uniform];

    /// The mix's name, as `--mix` takes it and as benchmark corpora are named.
    pub fn name(self) -> &'static str {
        match self {
            Mix::Realistic => "realistic",
            Mix::Uniform => "uniform",
        }
    }
}

impl std::str::FromStr for Mix {
    type Err = String;
    fn from_str(s: &str) -> Result<Mix, String> {
        Mix::ALL.into_iter().find(|mix| mix.name() == s).ok_or_else(|| {
            let names = Mix::ALL.map(Mix::name).join(" or ");
            format!("unknown mix {s:?}: expected {names}")
        })
    }
}

/// The kinds of event a corpus holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    PagePing,
    PageView,
    StructEvent,
    PlainLinkClick,
    TransactionItem,
    GaAction,
    SnowplowEcommerceAction,
    ViewItem,
    CreateOrder,
    RecommendationClick,
    Broken,
}

impl Kind {
    pub const ALL: [Kind; 11] = [
        Kind::PagePing,
        Kind::PageView,
        Kind::StructEvent,
        Kind::PlainLinkClick,
        Kind::TransactionItem,
        Kind::GaAction,
        Kind::SnowplowEcommerceAction,
        Kind::ViewItem,
        Kind::CreateOrder,
        Kind::RecommendationClick,
        Kind::Broken,
    ];

    /// Weights per thousand events in the realistic mix.
    fn realistic_weight(self) -> u32 {
        match self {
            Kind::PagePing => 480,
            Kind::PageView => 250,
            Kind::StructEvent => 40,
            Kind::PlainLinkClick => 30,
            Kind::TransactionItem => 25,
            Kind::GaAction => 35,
            Kind::SnowplowEcommerceAction => 55,
            Kind::ViewItem => 40,
            Kind::CreateOrder => 15,
            Kind::RecommendationClick => 25,
            Kind::Broken => 5,
        }
    }
}

/// SplitMix64: small, fast, and the same everywhere.
#[derive(Debug, Clone)]
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Rng {
        Rng(seed)
    }

    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// A number in `0..n` (n > 0).
    pub fn below(&mut self, n: u64) -> u64 {
        self.next_u64() % n
    }

    /// True with probability `percent`/100.
    pub fn chance(&mut self, percent: u64) -> bool {
        self.below(100) < percent
    }

    pub fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len() as u64) as usize]
    }

    /// A version-4 UUID.
    pub fn uuid(&mut self) -> String {
        let (a, b) = (self.next_u64(), self.next_u64());
        format!(
            "{:08x}-{:04x}-4{:03x}-{:04x}-{:012x}",
            a >> 32,
            (a >> 16) & 0xffff,
            a & 0xfff,
            0x8000 | (b >> 48) & 0x3fff,
            b & 0xffff_ffff_ffff
        )
    }
}

/// A stream of synthetic events.
#[derive(Debug, Clone)]
pub struct Corpus {
    rng: Rng,
    mix: Mix,
    /// Visitors, each a (domain_userid, domain_sessionid, user_id) triple, so that sessions repeat.
    visitors: Vec<(String, String, Option<String>)>,
    index: u64,
}

const PRODUCTS: &[&str] = &["P125", "P126", "P127", "SKU-778", "SKU-901", "1002", "P12345", "P67890", "B-77", "HAT-3"];
const PAGES: &[&str] = &["/", "/p/P125", "/p/P126", "/c/shirts", "/cart", "/checkout", "/search?q=tee"];

/// A visitor's browser: its user agent, and what the UA parser and YAUAA enrichments make of it. Every
/// visitor once had the first: then every event carried the same `derived_contexts` text, which a
/// mapper reads (and checks) whole for every kept event, and which a shop's traffic varies.
struct Device {
    ua: &'static str,
    /// useragentFamily, useragentMajor, useragentMinor, useragentPatch, osFamily, osMajor, osMinor,
    /// osPatch, deviceFamily.
    parsed: [&'static str; 9],
    /// deviceClass, deviceName, operatingSystemName, agentName, agentVersion, layoutEngineName.
    yauaa: [&'static str; 6],
}

const DEVICES: &[Device] = &[
    Device {
        ua: "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.0.0 Safari/537.36",
        parsed: ["Chrome", "124", "0", "0", "Mac OS X", "10", "15", "7", "Mac"],
        yauaa: ["Desktop", "Apple Macintosh", "Mac OS", "Chrome", "124.0.0.0", "Blink"],
    },
    Device {
        ua: "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.0.0 Safari/537.36 Edg/124.0.2478.67",
        parsed: ["Edge", "124", "0", "2478", "Windows", "10", "", "", "Other"],
        yauaa: ["Desktop", "Desktop", "Windows NT", "Edge", "124.0.2478.67", "Blink"],
    },
    Device {
        ua: "Mozilla/5.0 (iPhone; CPU iPhone OS 17_4_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.4.1 Mobile/15E148 Safari/604.1",
        parsed: ["Mobile Safari", "17", "4", "1", "iOS", "17", "4", "1", "iPhone"],
        yauaa: ["Phone", "Apple iPhone", "iOS", "Safari", "17.4.1", "AppleWebKit"],
    },
    Device {
        ua: "Mozilla/5.0 (Linux; Android 14; SM-S918B) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.6367.82 Mobile Safari/537.36",
        parsed: ["Chrome Mobile", "124", "0", "6367", "Android", "14", "", "", "Samsung SM-S918B"],
        yauaa: ["Phone", "Samsung SM-S918B", "Android", "Chrome", "124.0.6367.82", "Blink"],
    },
    Device {
        ua: "Mozilla/5.0 (X11; Ubuntu; Linux x86_64; rv:125.0) Gecko/20100101 Firefox/125.0",
        parsed: ["Firefox", "125", "0", "", "Ubuntu", "", "", "", "Other"],
        yauaa: ["Desktop", "Linux Desktop", "Ubuntu", "Firefox", "125.0", "Gecko"],
    },
    Device {
        ua: "Mozilla/5.0 (iPad; CPU OS 16_6 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) CriOS/124.0.6367.88 Mobile/15E148 Safari/604.1",
        parsed: ["Chrome Mobile iOS", "124", "0", "6367", "iOS", "16", "6", "", "iPad"],
        yauaa: ["Tablet", "Apple iPad", "iOS", "Chrome", "124.0.6367.88", "AppleWebKit"],
    },
];

impl Device {
    /// The device a visitor uses for all their events, by their cookie id. Picking it that way rather
    /// than with a random draw kept every other field of every event as it was before visitors had
    /// devices of their own (when all had the first).
    fn of(visitor: &str) -> &'static Device {
        let hash = visitor.bytes().fold(0usize, |h, b| h.wrapping_mul(31).wrapping_add(usize::from(b)));
        &DEVICES[hash % DEVICES.len()]
    }

    /// The entities the UA parser and YAUAA enrichments derive from the user agent.
    fn entities(&self) -> [Value; 2] {
        let [family, major, minor, patch, os, os_major, os_minor, os_patch, device_family] = self.parsed;
        let version = |parts: &[&str]| parts.iter().filter(|p| !p.is_empty()).copied().collect::<Vec<_>>().join(".");
        let part = |v: &str| if v.is_empty() { Value::Null } else { json!(v) };
        let ua_parser = json!({
            "useragentFamily": family, "useragentMajor": part(major), "useragentMinor": part(minor),
            "useragentPatch": part(patch), "useragentVersion": format!("{family} {}", version(&[major, minor, patch])),
            "osFamily": os, "osMajor": part(os_major), "osMinor": part(os_minor), "osPatch": part(os_patch),
            "osPatchMinor": null, "osVersion": format!("{os} {}", version(&[os_major, os_minor, os_patch])).trim_end(),
            "deviceFamily": device_family,
        });
        let [class, name, os, agent, agent_version, engine] = self.yauaa;
        let yauaa = json!({
            "deviceClass": class, "deviceName": name, "operatingSystemName": os,
            "agentName": agent, "agentVersion": agent_version, "layoutEngineName": engine,
        });
        [
            entity("com.snowplowanalytics.snowplow/ua_parser_context/jsonschema/1-0-0", ua_parser),
            entity("nl.basjes/yauaa_context/jsonschema/1-0-4", yauaa),
        ]
    }
}

fn entity(schema: &str, data: Value) -> Value {
    json!({"schema": format!("iglu:{schema}"), "data": data})
}

fn contexts(entities: Vec<Value>) -> Value {
    json!({"schema": "iglu:com.snowplowanalytics.snowplow/contexts/jsonschema/1-0-1", "data": entities})
}

fn unstruct(schema: &str, data: Value) -> Value {
    json!({"schema": "iglu:com.snowplowanalytics.snowplow/unstruct_event/jsonschema/1-0-0", "data": entity(schema, data)})
}

impl Corpus {
    pub fn new(seed: u64, mix: Mix) -> Corpus {
        let mut rng = Rng::new(seed);
        let visitors = (0..500)
            .map(|i| {
                let user = (i % 3 == 0).then(|| format!("cust-{}", 1000 + i));
                (rng.uuid(), rng.uuid(), user)
            })
            .collect();
        Corpus { rng, mix, visitors, index: 0 }
    }

    fn next_kind(&mut self) -> Kind {
        match self.mix {
            Mix::Uniform => *self.rng.pick(&Kind::ALL),
            Mix::Realistic => {
                let mut roll = self.rng.below(1000) as u32;
                for kind in Kind::ALL {
                    let w = kind.realistic_weight();
                    if roll < w {
                        return kind;
                    }
                    roll -= w;
                }
                Kind::PagePing
            }
        }
    }

    /// The next event as a TSV line, without a newline.
    pub fn next_line(&mut self) -> Vec<u8> {
        let kind = self.next_kind();
        let fields = self.event(kind);
        // The generator only writes plain text and JSON without separators, so this cannot fail;
        // an empty line keeps the function total.
        line_from_fields(&fields).unwrap_or_default()
    }

    /// The fields of one event of this kind.
    pub fn event(&mut self, kind: Kind) -> Map<String, Value> {
        self.index += 1;
        let rng = &mut self.rng;
        let (duid, sid, uid) = rng.pick(&self.visitors).clone();
        let device = Device::of(&duid);
        let second = 1_714_558_000 + self.index;
        let (h, m, s) = (second / 3600 % 24, second / 60 % 60, second % 60);
        let fraction = match rng.below(10) {
            0 => String::new(),
            1 => format!(".{:06}", rng.below(1_000_000)),
            _ => format!(".{:03}", rng.below(1000)),
        };
        let tstamp = |extra: u64| format!("2024-05-01 {h:02}:{m:02}:{:02}.{:03}", (s + extra) % 60, extra * 7 % 1000);
        let page = *rng.pick(PAGES);
        let mut f = Map::new();
        let mut set = |k: &str, v: Value| {
            f.insert(k.to_owned(), v);
        };
        set("app_id", json!("shop-web"));
        set("platform", json!("web"));
        set("etl_tstamp", json!(tstamp(2)));
        set("collector_tstamp", json!(tstamp(1)));
        set("dvce_created_tstamp", json!(tstamp(0)));
        set("event_id", json!(rng.uuid()));
        set("name_tracker", json!("sp"));
        set("v_tracker", json!("js-3.23.0"));
        set("v_collector", json!("ssc-3.2.0-kinesis"));
        set("v_etl", json!("snowplow-enrich-kinesis-5.0.0"));
        set("user_ipaddress", json!(format!("203.0.113.{}", rng.below(255))));
        set("domain_sessionidx", json!(1 + rng.below(9)));
        set("network_userid", json!(rng.uuid()));
        set("geo_country", json!("GB"));
        set("geo_city", json!("London"));
        set("geo_latitude", json!(51.5142));
        set("geo_longitude", json!(-0.0931));
        set("page_url", json!(format!("https://shop.example.com{page}")));
        set("page_title", json!("Snowplow Tees"));
        set("page_urlscheme", json!("https"));
        set("page_urlhost", json!("shop.example.com"));
        set("page_urlport", json!(443));
        set("page_urlpath", json!(page));
        set("useragent", json!(device.ua));
        set("br_lang", json!("en-GB"));
        set("br_cookies", json!("1"));
        set("br_colordepth", json!("24"));
        set("br_viewwidth", json!(1440));
        set("br_viewheight", json!(789));
        set("os_timezone", json!("Europe/London"));
        set("dvce_screenwidth", json!(1512));
        set("dvce_screenheight", json!(982));
        set("doc_charset", json!("UTF-8"));
        set("doc_width", json!(1440));
        set("doc_height", json!(5120));
        set("dvce_sent_tstamp", json!(tstamp(0)));
        set("event_fingerprint", json!(format!("{:032x}", rng.next_u64())));
        // Identity as trackers send it: the cookie ids almost always, a login sometimes, and now and
        // then only the client-session entity.
        let cookieless = rng.chance(4);
        if !cookieless {
            set("domain_userid", json!(duid));
            set("domain_sessionid", json!(sid));
        }
        if let Some(uid) = &uid {
            set("user_id", json!(uid));
        }
        if rng.below(10) != 0 {
            set("derived_tstamp", json!(format!("2024-05-01 {h:02}:{m:02}:{s:02}{fraction}")));
        }
        let mut entities =
            vec![entity("com.snowplowanalytics.snowplow/web_page/jsonschema/1-0-0", json!({"id": rng.uuid()}))];
        if cookieless || rng.chance(30) {
            let session_id = if cookieless && rng.chance(20) { String::new() } else { sid.clone() };
            entities.push(entity(
                "com.snowplowanalytics.snowplow/client_session/jsonschema/1-0-2",
                json!({"userId": duid, "sessionId": session_id, "sessionIndex": 3, "storageMechanism": "LOCAL_STORAGE"}),
            ));
        }
        let derived = contexts(device.entities().into());
        let (event, vendor, name, unstruct_event) = self.payload(kind, &mut entities, &mut f);
        let rng = &mut self.rng;
        f.insert("event".into(), json!(event));
        f.insert("event_vendor".into(), json!(vendor));
        f.insert("event_name".into(), json!(name));
        f.insert("event_format".into(), json!("jsonschema"));
        f.insert("event_version".into(), json!("1-0-0"));
        f.insert("contexts".into(), contexts(entities));
        f.insert("derived_contexts".into(), derived);
        if let Some(u) = unstruct_event {
            f.insert("unstruct_event".into(), u);
        }
        if kind == Kind::Broken {
            match rng.below(3) {
                0 => {
                    f.insert("$field_count".into(), json!(130));
                }
                1 => {
                    f.insert("$field_count".into(), json!(132));
                }
                _ => {
                    // Broken JSON in the entity the view_item mapper reads first.
                    f.insert("event_name".into(), json!("view_item"));
                    f.insert("unstruct_event".into(), json!("{\"schema\":\"iglu:com.snowplowanalytics.snowplow/unstruct_event/jsonschema/1-0-0\",\"data\":{\"schema\":"));
                }
            }
        }
        f
    }

    /// Event-specific fields: returns (event, event_vendor, event_name, unstruct_event) and adds
    /// contexts and atomic fields.
    fn payload(
        &mut self,
        kind: Kind,
        entities: &mut Vec<Value>,
        f: &mut Map<String, Value>,
    ) -> (&'static str, &'static str, &'static str, Option<Value>) {
        let rng = &mut self.rng;
        let products = |rng: &mut Rng, n: u64| -> Vec<&'static str> { (0..n).map(|_| *rng.pick(PRODUCTS)).collect() };
        const SP: &str = "com.snowplowanalytics.snowplow";
        match kind {
            Kind::PagePing => {
                for (k, v) in
                    [("pp_xoffset_min", 0), ("pp_xoffset_max", 0), ("pp_yoffset_min", 100), ("pp_yoffset_max", 900)]
                {
                    f.insert(k.into(), json!(v));
                }
                ("page_ping", SP, "page_ping", None)
            }
            Kind::PageView => ("page_view", SP, "page_view", None),
            Kind::StructEvent => {
                f.insert("se_category".into(), json!("video"));
                f.insert("se_action".into(), json!("play"));
                ("struct", "com.google.analytics", "event", None)
            }
            Kind::PlainLinkClick => {
                let u = unstruct(
                    "com.snowplowanalytics.snowplow/link_click/jsonschema/1-0-1",
                    json!({"targetUrl": "https://shop.example.com/about", "elementId": "footer-about"}),
                );
                ("unstruct", SP, "link_click", Some(u))
            }
            Kind::TransactionItem => {
                if !rng.chance(5) {
                    f.insert("ti_sku".into(), json!(rng.pick(PRODUCTS)));
                }
                f.insert("ti_orderid".into(), json!(format!("o-{}", rng.below(100_000))));
                f.insert("ti_price".into(), json!("12.50"));
                f.insert("ti_quantity".into(), json!(1 + rng.below(3)));
                f.insert("ti_currency".into(), json!("GBP"));
                ("transaction_item", SP, "transaction_item", None)
            }
            Kind::GaAction => {
                const GA: &str = "com.google.analytics.enhanced-ecommerce";
                let action = *rng.pick(&["view", "detail", "detail", "click", "purchase", "purchase", "add", "refund"]);
                let product_schema = if rng.chance(10) { "product" } else { "productFieldObject" };
                let n = if rng.chance(5) { 0 } else { 1 + rng.below(3) };
                for id in products(rng, n) {
                    entities.push(entity(
                        &format!("{GA}/{product_schema}/jsonschema/1-0-0"),
                        json!({"id": id, "name": "Tee", "price": 24, "currency": "USD", "quantity": 1}),
                    ));
                }
                (
                    "unstruct",
                    GA,
                    "action",
                    Some(unstruct(&format!("{GA}/action/jsonschema/1-0-0"), json!({"action": action}))),
                )
            }
            Kind::SnowplowEcommerceAction => {
                const SPE: &str = "com.snowplowanalytics.snowplow.ecommerce";
                let action = *rng.pick(&[
                    "product_view",
                    "list_view",
                    "list_click",
                    "transaction",
                    "add_to_cart",
                    "checkout_step",
                ]);
                let n = if rng.chance(5) { 0 } else { 1 + rng.below(4) };
                for id in products(rng, n) {
                    let id = if rng.chance(3) { json!(id.len() * 1000 + 7) } else { json!(id) };
                    entities.push(entity(
                        &format!("{SPE}/product/jsonschema/1-0-0"),
                        json!({"id": id, "category": "Shirts", "price": 25, "currency": "GBP"}),
                    ));
                }
                let u = unstruct(&format!("{SPE}/snowplow_ecommerce_action/jsonschema/1-0-2"), json!({"type": action}));
                ("unstruct", SPE, "snowplow_ecommerce_action", Some(u))
            }
            Kind::ViewItem => {
                let data = if rng.chance(5) {
                    json!({"item_type": "product"})
                } else {
                    json!({"item_id": rng.pick(PRODUCTS), "item_type": "product"})
                };
                (
                    "unstruct",
                    "io.snowplow.ecomm",
                    "view_item",
                    Some(unstruct("io.snowplow.ecomm/view_item/jsonschema/1-0-0", data)),
                )
            }
            Kind::CreateOrder => {
                if !rng.chance(5) {
                    let n = rng.below(4);
                    let items: Vec<Value> = products(rng, n)
                        .into_iter()
                        .map(|id| json!({"item_id": id, "quantity": 1, "price": 25, "item_type": "product"}))
                        .collect();
                    entities.push(entity(
                        "io.snowplow.ecomm/cart/jsonschema/1-0-0",
                        json!({"cart_id": "c-1", "subtotal": 50, "total": 55, "currency": "GBP", "items_in_cart": items}),
                    ));
                }
                let u = unstruct("io.snowplow.ecomm/create_order/jsonschema/1-0-0", json!({"order_id": "o-1"}));
                ("unstruct", "io.snowplow.ecomm", "create_order", Some(u))
            }
            Kind::RecommendationClick => {
                let widget = if rng.chance(10) { "hero-banner" } else { "recommendation-impression" };
                let mut attributes = vec![json!({"source": "dataset", "attribute": "widget", "value": "home-top"})];
                if !rng.chance(5) {
                    attributes.push(json!({"source": "dataset", "attribute": "recommendationId", "value": rng.uuid()}));
                }
                entities.push(entity(
                    &format!("{SP}/element/jsonschema/1-0-0"),
                    json!({"element_name": widget, "height": 320, "width": 1200, "position_x": 0, "position_y": 480, "attributes": attributes}),
                ));
                let n = if rng.chance(5) { 0 } else { 1 + rng.below(5) };
                for (i, id) in products(rng, n).into_iter().enumerate() {
                    entities.push(entity(
                        &format!("{SP}/element_content/jsonschema/1-0-0"),
                        json!({"parent_name": "recommendation-impression", "parent_index": 1, "element_name": "item",
                               "element_index": i + 1, "attributes": [{"source": "dataset", "attribute": "itemId", "value": id}]}),
                    ));
                }
                let u = unstruct(
                    &format!("{SP}/link_click/jsonschema/1-0-1"),
                    json!({"targetUrl": "https://shop.example.com/p/P200", "elementId": "rec"}),
                );
                ("unstruct", SP, "link_click", Some(u))
            }
            Kind::Broken => ("unstruct", "io.snowplow.ecomm", "view_item", None),
        }
    }
}

impl Iterator for Corpus {
    type Item = Vec<u8>;
    fn next(&mut self) -> Option<Vec<u8>> {
        Some(self.next_line())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use snowplow_enriched::{Event, Field};

    #[test]
    fn same_seed_same_bytes() {
        let a: Vec<_> = Corpus::new(7, Mix::Uniform).take(50).collect();
        let b: Vec<_> = Corpus::new(7, Mix::Uniform).take(50).collect();
        let c: Vec<_> = Corpus::new(8, Mix::Uniform).take(50).collect();
        assert_eq!(a, b);
        assert_ne!(a, c);
    }

    #[test]
    fn realistic_mix_is_mostly_page_traffic() {
        let lines: Vec<_> = Corpus::new(1, Mix::Realistic).take(5000).collect();
        let names: Vec<String> = lines
            .iter()
            .filter_map(|l| Event::parse(l).ok())
            .map(|e| e.str(Field::EventName).unwrap().unwrap_or_default().to_owned())
            .collect();
        let pages = names.iter().filter(|n| n.starts_with("page_")).count();
        assert!(pages > 3000 && pages < 4000, "{pages}");
        assert!(lines.iter().all(|l| !l.contains(&b'\n')));
    }
}
