//! Telnyx, the provider behind SMS and calls: its REST client (`client`) and its signed
//! webhook events (`events`). Channels use it; it knows no channel.

pub mod client;
pub mod events;
