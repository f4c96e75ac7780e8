//! Every flavour crate, linked. A crate nobody references is left out of the binary and its
//! `inventory::submit!` registrations with it; these lines are the references. Adding a flavour is one
//! line here.

use flavour_classic_ecommerce as _;
use flavour_element_tracking as _;
use flavour_enhanced_ecommerce as _;
use flavour_hyper_t as _;
use flavour_snowplow_ecommerce as _;
