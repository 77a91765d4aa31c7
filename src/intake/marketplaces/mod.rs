//! Lead marketplaces with a publicly documented lead-delivery format, one small mapper
//! each into the shared `Submission`. They post to the generic URL
//! (`/webhooks/leads/{source_token}`), which picks the mapper by the source's kind.
//!
//! Looked for and not given a mapper of their own: Thumbtack delivers leads
//! ("negotiations") by webhooks a pro can set up in the Thumbtack account
//! (<https://developers.thumbtack.com/docs/pro-integrations/self-serve-webhooks>), but the
//! payload's field list was not in the public pages found; Networx, Modernize and Porch
//! document only ping/post formats for selling leads *to* them. Those reach Leadline
//! through the generic intake with a field mapping (checked with the preview), or Zapier.

pub mod angi;
pub mod homeadvisor;
