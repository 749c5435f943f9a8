//! The waiting rooms of the embedded default: the same rules as `visit.lua`, under one lock.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use super::{draw_score, Standing, Visit, Visited, RATE_WINDOW_MS};

#[derive(Default)]
struct Room {
    /// Joiners before the start, with their draws; placed in draw order at the start.
    drawn: Vec<(f64, String)>,
    /// A visit saw the start: the places are settled.
    started: bool,
    /// The places from the start: `order[i]` is the (i+1)-th.
    order: Vec<String>,
    place: HashMap<String, usize>,
    admitted: HashMap<String, u64>,
    /// Members whose admission ended: `true` when their booking completed.
    ended: HashMap<String, bool>,
    served: u64,
    /// The time of the next admission the rate allows.
    tat: Option<f64>,
    /// Nobody waited at the end of the last visit.
    idle: bool,
    measured_at: Option<u64>,
    measured_served: u64,
    measured_rate: Option<f64>,
    expires_at: Option<Instant>,
}

impl Room {
    fn queued(&self) -> u64 {
        (self.order.len() + self.drawn.len()) as u64
    }

    fn in_queue(&self, member: &str) -> bool {
        self.place.contains_key(member) || self.drawn.iter().any(|(_, m)| m == member)
    }

    fn settle(&mut self) {
        let mut drawn = std::mem::take(&mut self.drawn);
        drawn.sort_by(|a, b| a.0.total_cmp(&b.0).then_with(|| a.1.cmp(&b.1)));
        for (_, member) in drawn {
            self.push(member);
        }
        self.started = true;
    }

    fn push(&mut self, member: String) {
        self.place.insert(member.clone(), self.order.len());
        self.order.push(member);
    }

    fn visit(&mut self, visit: &Visit<'_>) -> Visited {
        let now = visit.now_ms;
        let before_start = now < visit.start_ms && !self.started;
        if visit.join && self.ended.remove(visit.member).is_some() {
            // Joins again at the back, out of the served places.
            let index = self.place.remove(visit.member).expect("an ended member had a place");
            self.order.remove(index);
            for (i, member) in self.order.iter().enumerate().skip(index) {
                self.place.insert(member.clone(), i);
            }
            self.served -= 1;
            self.push(visit.member.to_owned());
        } else if visit.join && !self.in_queue(visit.member) {
            if before_start {
                self.drawn.push((draw_score(visit.draw), visit.member.to_owned()));
            } else {
                if !self.started {
                    self.settle();
                }
                self.push(visit.member.to_owned());
            }
        }
        let queued = self.queued();
        if !before_start {
            if !self.started {
                self.settle();
            }
            let ended = &mut self.ended;
            self.admitted.retain(|member, until| {
                if *until <= now {
                    ended.entry(member.clone()).or_insert(false);
                    false
                } else {
                    true
                }
            });
            let interval = 60_000.0 / f64::from(visit.rate_per_minute.max(1));
            let mut tat = self.tat.unwrap_or(visit.start_ms as f64);
            if self.served < queued {
                if self.idle {
                    tat = tat.max(now as f64);
                    self.idle = false;
                }
                let allowed =
                    if now as f64 >= tat { ((now as f64 - tat) / interval).floor() as i64 + 1 } else { 0 };
                let free = i64::from(visit.max_admitted) - self.admitted.len() as i64;
                let n = allowed.min(free).min((queued - self.served) as i64);
                if n > 0 {
                    for index in self.served..self.served + n as u64 {
                        let member = self.order[index as usize].clone();
                        self.admitted.insert(member, now + visit.admission_ms);
                    }
                    self.served += n as u64;
                    tat += n as f64 * interval;
                }
                if free < allowed {
                    tat = tat.max(now as f64);
                }
                self.tat = Some(tat);
            }
            self.idle = self.served >= queued;
            match self.measured_at {
                None => {
                    self.measured_at = Some(now);
                    self.measured_served = self.served;
                }
                Some(measured_at) if now.saturating_sub(measured_at) >= RATE_WINDOW_MS => {
                    self.measured_rate = Some(
                        (self.served - self.measured_served) as f64 * 60_000.0 / (now - measured_at) as f64,
                    );
                    self.measured_at = Some(now);
                    self.measured_served = self.served;
                }
                Some(_) => {}
            }
        }
        let standing = if let Some(&until_ms) = self.admitted.get(visit.member) {
            Standing::Admitted { until_ms }
        } else if let Some(&completed) = self.ended.get(visit.member) {
            if completed {
                Standing::Completed
            } else {
                Standing::Expired
            }
        } else if !self.in_queue(visit.member) {
            Standing::NotQueued
        } else if before_start {
            Standing::Drawing
        } else {
            Standing::Waiting { ahead: self.place[visit.member] as u64 - self.served }
        };
        self.expires_at = Some(Instant::now() + Duration::from_millis(visit.keep_ms));
        Visited { standing, queued, served: self.served, measured_per_minute: self.measured_rate }
    }
}

/// Every room of one process.
#[derive(Default)]
pub struct MemoryRooms {
    rooms: Mutex<HashMap<String, Room>>,
}

impl MemoryRooms {
    fn rooms(&self) -> std::sync::MutexGuard<'_, HashMap<String, Room>> {
        self.rooms.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    pub fn visit(&self, room: &str, visit: &Visit<'_>) -> Visited {
        let mut rooms = self.rooms();
        let now = Instant::now();
        rooms.retain(|_, room| room.expires_at.is_none_or(|at| at > now));
        rooms.entry(room.to_owned()).or_default().visit(visit)
    }

    pub fn finish(&self, room: &str, member: &str) -> bool {
        let mut rooms = self.rooms();
        let Some(room) = rooms.get_mut(room) else { return false };
        if room.admitted.remove(member).is_some() {
            room.ended.insert(member.to_owned(), true);
            true
        } else {
            false
        }
    }
}
