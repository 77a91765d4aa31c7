//! Lead marketplaces with a publicly documented lead-delivery format, one small mapper
//! each into the shared `Submission`. They post to the generic URL
//! (`/webhooks/leads/{source_token}`), which picks the mapper by the source's kind.
//!
//! Looked for and not implemented (no public delivery format found): Thumbtack delivers
//! leads through its partner API (OAuth, negotiation webhooks under a partner agreement),
//! Networx, Modernize and Porch document only ping/post formats for selling leads *to*
//! them. Those reach Leadline through the generic intake with a field mapping (or Zapier).

pub mod angi;
pub mod homeadvisor;
