//! Tests of the rendered `haproxy.cfg`: golden files checked by `haproxy -c`,
//! refusal of injected values, and the rules the goldens do not show.

mod cases;
mod fuzz;
mod golden;
mod injection;
mod rules;
mod sample;
