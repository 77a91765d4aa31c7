//! Telnyx, the provider behind SMS and calls: its REST client (`client`), its signed
//! webhook events (`events`) and the owners of its numbers (`numbers`). Channels use it;
//! it knows no channel.

pub mod client;
pub mod events;
pub mod numbers;
