//! The 131 fields of an enriched event, in wire order, with the type the Go Analytics SDK gives each.
//!
//! The table comes from `upstream/field-list/enriched_tsv_131_fields_types.tsv` (names as the Go and
//! Python SDKs spell them). It is the only place that knows field positions.

use std::fmt;

/// How the Analytics SDKs read a field's text.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FieldKind {
    /// Free text, rendered as a JSON string.
    Str,
    /// `YYYY-MM-DD hh:mm:ss[.f]`, UTC.
    Timestamp,
    /// A decimal integer (an optional sign, then digits).
    Int,
    /// A finite floating-point number.
    Double,
    /// One of Go's `strconv.ParseBool` spellings.
    Bool,
    /// A `contexts` envelope: `{"schema":…,"data":[{schema,data},…]}`.
    Contexts,
    /// An `unstruct_event` envelope: `{"schema":…,"data":{schema,data}}`.
    Unstruct,
}

macro_rules! fields {
    ($($variant:ident = $index:literal, $name:literal, $kind:ident;)*) => {
        /// One of the 131 enriched-event fields; the discriminant is its position in the TSV line.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
        #[repr(u8)]
        pub enum Field {
            $(#[doc = concat!("`", $name, "`")] $variant = $index,)*
        }

        impl Field {
            /// Every field, in TSV order.
            pub const ALL: [Field; FIELD_COUNT] = [$(Field::$variant,)*];

            /// The field's name as the Go and Python Analytics SDKs spell it.
            pub const fn name(self) -> &'static str {
                match self { $(Field::$variant => $name,)* }
            }

            /// How the field's text is typed.
            pub const fn kind(self) -> FieldKind {
                match self { $(Field::$variant => FieldKind::$kind,)* }
            }
        }
    };
}

/// The number of tab-separated fields in an enriched event.
pub const FIELD_COUNT: usize = 131;

impl Field {
    /// The field's position in the TSV line.
    pub const fn index(self) -> usize {
        self as usize
    }

    /// Looks a field up by its SDK name.
    pub fn from_name(name: &str) -> Option<Field> {
        Field::ALL.iter().copied().find(|f| f.name() == name)
    }
}

impl fmt::Display for Field {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

fields! {
    AppId = 0, "app_id", Str;
    Platform = 1, "platform", Str;
    EtlTstamp = 2, "etl_tstamp", Timestamp;
    CollectorTstamp = 3, "collector_tstamp", Timestamp;
    DvceCreatedTstamp = 4, "dvce_created_tstamp", Timestamp;
    Event = 5, "event", Str;
    EventId = 6, "event_id", Str;
    TxnId = 7, "txn_id", Int;
    NameTracker = 8, "name_tracker", Str;
    VTracker = 9, "v_tracker", Str;
    VCollector = 10, "v_collector", Str;
    VEtl = 11, "v_etl", Str;
    UserId = 12, "user_id", Str;
    UserIpaddress = 13, "user_ipaddress", Str;
    UserFingerprint = 14, "user_fingerprint", Str;
    DomainUserid = 15, "domain_userid", Str;
    DomainSessionidx = 16, "domain_sessionidx", Int;
    NetworkUserid = 17, "network_userid", Str;
    GeoCountry = 18, "geo_country", Str;
    GeoRegion = 19, "geo_region", Str;
    GeoCity = 20, "geo_city", Str;
    GeoZipcode = 21, "geo_zipcode", Str;
    GeoLatitude = 22, "geo_latitude", Double;
    GeoLongitude = 23, "geo_longitude", Double;
    GeoRegionName = 24, "geo_region_name", Str;
    IpIsp = 25, "ip_isp", Str;
    IpOrganization = 26, "ip_organization", Str;
    IpDomain = 27, "ip_domain", Str;
    IpNetspeed = 28, "ip_netspeed", Str;
    PageUrl = 29, "page_url", Str;
    PageTitle = 30, "page_title", Str;
    PageReferrer = 31, "page_referrer", Str;
    PageUrlscheme = 32, "page_urlscheme", Str;
    PageUrlhost = 33, "page_urlhost", Str;
    PageUrlport = 34, "page_urlport", Int;
    PageUrlpath = 35, "page_urlpath", Str;
    PageUrlquery = 36, "page_urlquery", Str;
    PageUrlfragment = 37, "page_urlfragment", Str;
    RefrUrlscheme = 38, "refr_urlscheme", Str;
    RefrUrlhost = 39, "refr_urlhost", Str;
    RefrUrlport = 40, "refr_urlport", Int;
    RefrUrlpath = 41, "refr_urlpath", Str;
    RefrUrlquery = 42, "refr_urlquery", Str;
    RefrUrlfragment = 43, "refr_urlfragment", Str;
    RefrMedium = 44, "refr_medium", Str;
    RefrSource = 45, "refr_source", Str;
    RefrTerm = 46, "refr_term", Str;
    MktMedium = 47, "mkt_medium", Str;
    MktSource = 48, "mkt_source", Str;
    MktTerm = 49, "mkt_term", Str;
    MktContent = 50, "mkt_content", Str;
    MktCampaign = 51, "mkt_campaign", Str;
    Contexts = 52, "contexts", Contexts;
    SeCategory = 53, "se_category", Str;
    SeAction = 54, "se_action", Str;
    SeLabel = 55, "se_label", Str;
    SeProperty = 56, "se_property", Str;
    SeValue = 57, "se_value", Str;
    UnstructEvent = 58, "unstruct_event", Unstruct;
    TrOrderid = 59, "tr_orderid", Str;
    TrAffiliation = 60, "tr_affiliation", Str;
    TrTotal = 61, "tr_total", Double;
    TrTax = 62, "tr_tax", Double;
    TrShipping = 63, "tr_shipping", Double;
    TrCity = 64, "tr_city", Str;
    TrState = 65, "tr_state", Str;
    TrCountry = 66, "tr_country", Str;
    TiOrderid = 67, "ti_orderid", Str;
    TiSku = 68, "ti_sku", Str;
    TiName = 69, "ti_name", Str;
    TiCategory = 70, "ti_category", Str;
    TiPrice = 71, "ti_price", Double;
    TiQuantity = 72, "ti_quantity", Int;
    PpXoffsetMin = 73, "pp_xoffset_min", Int;
    PpXoffsetMax = 74, "pp_xoffset_max", Int;
    PpYoffsetMin = 75, "pp_yoffset_min", Int;
    PpYoffsetMax = 76, "pp_yoffset_max", Int;
    Useragent = 77, "useragent", Str;
    BrName = 78, "br_name", Str;
    BrFamily = 79, "br_family", Str;
    BrVersion = 80, "br_version", Str;
    BrType = 81, "br_type", Str;
    BrRenderengine = 82, "br_renderengine", Str;
    BrLang = 83, "br_lang", Str;
    BrFeaturesPdf = 84, "br_features_pdf", Bool;
    BrFeaturesFlash = 85, "br_features_flash", Bool;
    BrFeaturesJava = 86, "br_features_java", Bool;
    BrFeaturesDirector = 87, "br_features_director", Bool;
    BrFeaturesQuicktime = 88, "br_features_quicktime", Bool;
    BrFeaturesRealplayer = 89, "br_features_realplayer", Bool;
    BrFeaturesWindowsmedia = 90, "br_features_windowsmedia", Bool;
    BrFeaturesGears = 91, "br_features_gears", Bool;
    BrFeaturesSilverlight = 92, "br_features_silverlight", Bool;
    BrCookies = 93, "br_cookies", Bool;
    BrColordepth = 94, "br_colordepth", Str;
    BrViewwidth = 95, "br_viewwidth", Int;
    BrViewheight = 96, "br_viewheight", Int;
    OsName = 97, "os_name", Str;
    OsFamily = 98, "os_family", Str;
    OsManufacturer = 99, "os_manufacturer", Str;
    OsTimezone = 100, "os_timezone", Str;
    DvceType = 101, "dvce_type", Str;
    DvceIsmobile = 102, "dvce_ismobile", Bool;
    DvceScreenwidth = 103, "dvce_screenwidth", Int;
    DvceScreenheight = 104, "dvce_screenheight", Int;
    DocCharset = 105, "doc_charset", Str;
    DocWidth = 106, "doc_width", Int;
    DocHeight = 107, "doc_height", Int;
    TrCurrency = 108, "tr_currency", Str;
    TrTotalBase = 109, "tr_total_base", Double;
    TrTaxBase = 110, "tr_tax_base", Double;
    TrShippingBase = 111, "tr_shipping_base", Double;
    TiCurrency = 112, "ti_currency", Str;
    TiPriceBase = 113, "ti_price_base", Double;
    BaseCurrency = 114, "base_currency", Str;
    GeoTimezone = 115, "geo_timezone", Str;
    MktClickid = 116, "mkt_clickid", Str;
    MktNetwork = 117, "mkt_network", Str;
    EtlTags = 118, "etl_tags", Str;
    DvceSentTstamp = 119, "dvce_sent_tstamp", Timestamp;
    RefrDomainUserid = 120, "refr_domain_userid", Str;
    RefrDeviceTstamp = 121, "refr_device_tstamp", Timestamp;
    DerivedContexts = 122, "derived_contexts", Contexts;
    DomainSessionid = 123, "domain_sessionid", Str;
    DerivedTstamp = 124, "derived_tstamp", Timestamp;
    EventVendor = 125, "event_vendor", Str;
    EventName = 126, "event_name", Str;
    EventFormat = 127, "event_format", Str;
    EventVersion = 128, "event_version", Str;
    EventFingerprint = 129, "event_fingerprint", Str;
    TrueTstamp = 130, "true_tstamp", Timestamp;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn discriminants_follow_table_order() {
        for (i, f) in Field::ALL.iter().enumerate() {
            assert_eq!(f.index(), i, "{f}");
        }
        assert_eq!(Field::EventName.index(), 126);
        assert_eq!(Field::from_name("derived_tstamp"), Some(Field::DerivedTstamp));
        assert_eq!(Field::from_name("nope"), None);
    }
}
