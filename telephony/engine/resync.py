"""Resync: rebuild the state from a snapshot, keeping what a snapshot cannot tell.

A snapshot (ContactList, DeviceStateList, ExtensionStateList, CoreShowChannels, BridgeList,
ParkedCalls, QueueStatus, Status rows) says what exists *now*. It does not say when a call
was answered, who transferred it, who is spying in which mode, that a caller came through a
queue, that a phone pressed Hold, or that a MixMonitor runs. For every channel and call that
exists both before and after, those facts are carried over from the old state; everything
the PBX no longer reports is simply absent from the new state (no ghost calls after a PBX
restart that said nothing).
"""

from __future__ import annotations

from .model import STATE_UP, State

# The snapshot a link takes on connect, in the order the traces take it (scenario 19).
SNAPSHOT_ACTIONS: tuple[str, ...] = (
    "PJSIPShowContacts",
    "DeviceStateList",
    "ExtensionStateList",
    "CoreShowChannels",
    "BridgeList",
    "ParkedCalls",
    "QueueStatus",
)


def carry_over(old: State, new: State) -> None:
    # Tombstones survive: a late event about a channel that hung up before the snapshot
    # must not resurrect it.
    for uid in old.gone:
        if uid not in new.channels:
            new.gone[uid] = None
    for uid, c in new.channels.items():
        was = old.channels.get(uid)
        if was is None:
            continue
        if was.held and (was.held_in is None or was.held_in == c.bridge):
            c.held, c.held_in = True, c.bridge
        c.queue = c.queue or was.queue
        c.spy_mode = c.spy_mode or was.spy_mode
        c.spying_on = was.spying_on if was.spying_on in new.channels else None
        c.recording = c.recording or was.recording
        c.created = min(c.created, was.created)
        c.dial_string = c.dial_string or was.dial_string
        c.cid_name = c.cid_name or was.cid_name
        c.app = c.app or was.app
        for dest in was.dials:
            target = new.channels.get(dest)
            if target is not None and target.bridge is None:
                c.dials.add(dest)
                target.dialed_by = uid
    for linkedid, call in new.calls.items():
        was_call = old.calls.get(linkedid)
        if was_call is None:
            continue
        call.started = min(call.started, was_call.started)
        if was_call.answered_at is not None:
            call.answered_at = was_call.answered_at
        call.transfers = list(was_call.transfers) + call.transfers
        call.queue = call.queue or was_call.queue
        call.abandoned = call.abandoned or was_call.abandoned
        call.recording = call.recording or was_call.recording
        call.dial_statuses = list(was_call.dial_statuses) + call.dial_statuses
        call.dialed = call.dialed or was_call.dialed
        merged = dict(was_call.parties)
        for uid, party in call.parties.items():
            merged[uid] = party
        call.parties = merged


def rebuild_dials(s: State) -> None:
    """A snapshot lists an unanswered outgoing leg (`AppDial` / `AppQueue`, not bridged) but
    not who dials it; the dialler is the channel of the same call running Dial or Queue.
    Without this, a user whose phone was answered and now dials out (an Originate) would show
    as talking instead of ringing after a resync."""
    for call in s.calls.values():
        legs = [
            s.channels[uid]
            for uid in call.channels
            if uid in s.channels
            and s.channels[uid].app in ("AppDial", "AppQueue")
            and s.channels[uid].bridge is None
            and s.channels[uid].state != STATE_UP
        ]
        if not legs:
            continue
        dialers = [
            s.channels[uid]
            for uid in call.channels
            if uid in s.channels and s.channels[uid].app in ("Dial", "Queue")
        ]
        if len(dialers) != 1:
            continue
        dialer = dialers[0]
        for leg in legs:
            if leg.dialed_by is None:
                dialer.dials.add(leg.uniqueid)
                leg.dialed_by = dialer.uniqueid
