//! What the transport machine reports, turned into work for the session machine and into
//! [`Event`]s: the T-selector check of a CR (refused with DR), the CN waiting for the CC, TSDUs,
//! the end of the connection.

use std::time::Instant;

use crate::cotp::class0;
use crate::cotp::connection::{self as transport, Disconnect};
use crate::session::connection::Phase;

use super::event;
use super::{AssociateIndication, Association, Event, RefusalReason, Rejection, RejectionCause};

impl Association {
    pub(super) fn on_transport(&mut self, event: transport::Event, now: Instant) {
        match event {
            transport::Event::ConnectIndication(ind) => {
                match self.dispatch.check_transport(
                    &mut self.candidates,
                    ind.called_tsel.as_ref(),
                    self.peer,
                    ind.calling_tsel.as_ref(),
                ) {
                    Ok(()) => {
                        let _ = self.transport.accept(now);
                        self.indication = Some(Box::new(AssociateIndication::new(
                            self.peer,
                            ind.calling_tsel,
                            ind.called_tsel,
                        )));
                    }
                    Err((mismatch, reason)) => {
                        self.end(Event::Rejected(Box::new(Rejection {
                            sent: RefusalReason::Transport(Disconnect::Refused(
                                class0::Refusal::Disconnect(reason),
                            )),
                            cause: RejectionCause::Mismatch(mismatch),
                        })));
                        let _ = self.transport.refuse(reason, now);
                    }
                }
            }
            transport::Event::Connected(c) => {
                self.events.push_back(Event::TransportConnected {
                    tpdu_size: c.tpdu_size,
                });
                match self.pending_connect.take() {
                    Some(cn) => {
                        if let Err(e) = self.session.connect(*cn, now) {
                            // Checked in associate(); if it fails anyway, give up cleanly.
                            let _ = e;
                            self.transport.disconnect(now);
                        }
                    }
                    None => self.session.handle_transport_connected(now),
                }
            }
            // The P-DATA path: an S-DATA goes straight to the presentation control.
            transport::Event::Tsdu(t) => match self.session.take_data(t, now) {
                Ok(Some(data)) => self.on_data(data, now),
                Ok(None) => {}
                Err(t) => self.session.handle_tsdu(t, now),
            },
            transport::Event::Disconnected(d) => {
                if self.session.phase() == Phase::Idle {
                    self.transport_ended(d);
                } else {
                    self.session.handle_transport_disconnected(d, now);
                }
            }
            transport::Event::Closed => {
                // What the session machine made of the end comes first.
                while let Some(e) = self.session.poll_event() {
                    self.on_session(e, now);
                }
                self.closed = true;
                self.idle_deadline = None;
                self.events.push_back(Event::Closed);
            }
        }
    }

    /// The transport connection ended before the session connection began.
    fn transport_ended(&mut self, d: Disconnect) {
        if let Some(event) = event::before_session(self.role, d) {
            self.end(event);
        }
    }
}
