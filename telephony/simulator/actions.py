"""AMI actions of the simulator, answered with Asterisk 22's texts (see shared/ami-traces).

Each handler runs under the PBX lock with the session that sent the action. Most actions answer
first and then emit their events (Park, Redirect, Hangup, Originate, BlindTransfer); Setvar on a
device state emits its events first and answers after, as trace 16 shows.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from telephony.ami.framing import Frame
from telephony.simulator.events import UP, Headers, bridge_block, channel_block, event
from telephony.simulator.pbx import EXT_TEXT, Channel, Pbx, SimError
from telephony.simulator.server import AmiServer, Session, respond

Handler = Callable[["Actions", Session, Frame], None]
VERSION = "Asterisk 22.10.1 built by root @ vm on a x86_64 running Linux on 2026-11-23 00:27:41 UTC"


def _s(frame: Frame, key: str, default: str = "") -> str:
    value = frame.get(key, default)
    return value[-1] if isinstance(value, list) else value


def _truthy(value: str) -> bool:
    return value.strip().lower() in ("1", "true", "yes", "on")


def _caller_id(text: str) -> tuple[str, str]:
    """`"Console call" <1002>` → ("1002", "Console call")."""
    text = text.strip()
    if "<" in text and text.endswith(">"):
        name, _, num = text[:-1].partition("<")
        return num.strip(), name.strip().strip('"')
    return text, ""


class Actions:
    def __init__(self, pbx: Pbx, server: AmiServer) -> None:
        self.pbx = pbx
        self.server = server
        self.table: dict[str, Handler] = {
            name[3:].lower(): getattr(Actions, name) for name in dir(Actions) if name.startswith("do_")
        }

    def dispatch(self, session: Session, frame: Frame) -> None:
        action = _s(frame, "Action")
        handler = self.table.get(action.lower())
        if handler is None:
            session.send(
                respond(
                    frame,
                    "Error",
                    f"Invalid/unknown command: {action}. Use Action: ListCommands to show available commands.",
                )
            )
            self.server.broadcast(
                event(
                    "RequestBadFormat",
                    "security,all",
                    [
                        ("EventTV", _tv()),
                        ("Severity", "Error"),
                        ("Service", "AMI"),
                        ("EventVersion", "1"),
                        ("SessionID", session.session_id),
                        ("LocalAddress", self.server.local),
                        ("RemoteAddress", session.remote),
                        ("RequestType", f"Action: {action}"),
                        ("SessionTV", session.started),
                        ("AccountID", self.server.username),
                    ],
                )
            )
            return
        try:
            handler(self, session, frame)
        except SimError as exc:
            session.send(respond(frame, "Error", str(exc)))

    def _then(self, session: Session, frame: Frame, message: str, change: Callable[[], None]) -> None:
        """Apply a change whose events must follow the response (QueuePause/Add/Remove)."""
        self.pbx.hold_events()
        try:
            change()
        except SimError:
            self.pbx._held = None
            raise
        session.send(respond(frame, "Success", message))
        self.pbx.release_events()

    def _channel(self, frame: Frame, key: str = "Channel", error: str = "No such channel") -> Channel:
        name = _s(frame, key)
        ch = self.pbx.channels.get(name)
        if ch is None or ch.hung:
            raise SimError(error.format(name=name))
        return ch

    # ---------------------------------------------------------------- basics

    def do_Ping(self, session: Session, frame: Frame) -> None:
        session.send(respond(frame, "Success", None, [("Ping", "Pong"), ("Timestamp", f"{time.time():.6f}")]))

    def do_UserEvent(self, session: Session, frame: Frame) -> None:
        session.send(respond(frame, "Success", "Event Sent"))
        headers: Headers = [("UserEvent", _s(frame, "UserEvent"))]
        for key, value in frame.items():
            if key in ("Action", "UserEvent", "ActionID"):
                continue
            for item in value if isinstance(value, list) else [value]:
                headers.append((key, item))
        if "ActionID" in frame:
            headers.append(("ActionID", _s(frame, "ActionID")))
        self.pbx.emit("UserEvent", "user,all", headers)

    def do_Command(self, session: Session, frame: Frame) -> None:
        command = " ".join(_s(frame, "Command").split())
        if command == "core show version":
            session.send(respond(frame, "Success", "Command output follows", [("Output", VERSION)]))
        elif command == "core show uptime":
            up = int(time.time() - self.pbx.booted)
            session.send(
                respond(
                    frame, "Success", "Command output follows", [("Output", f"System uptime: {up} seconds")]
                )
            )
        else:
            first = command.split(" ")[0] if command else ""
            session.send(
                respond(
                    frame,
                    "Error",
                    "Command output follows",
                    [
                        (
                            "Output",
                            f"No such command '{first}' (type 'core show help {first}' for other possible commands)",
                        )
                    ],
                )
            )

    def do_Events(self, session: Session, frame: Frame) -> None:
        mask = _s(frame, "EventMask", "on").lower()
        session.events = mask != "off"
        session.send(respond(frame, "Success", "Events On" if session.events else "Events Off"))

    def do_Setvar(self, session: Session, frame: Frame) -> None:
        variable = _s(frame, "Variable")
        value = _s(frame, "Value")
        if not variable:
            raise SimError("No variable specified")
        if variable.startswith("DEVICE_STATE(Custom:") and variable.endswith(")"):
            device = variable[len("DEVICE_STATE(Custom:") : -1]
            if device.startswith("DND"):
                self.pbx.set_dnd(device[3:], value.upper() not in ("NOT_INUSE", "UNKNOWN", ""))
            else:
                self.pbx.emit(
                    "DeviceStateChange",
                    "call,all",
                    [("Device", f"Custom:{device}"), ("State", value.upper())],
                )
        elif variable.startswith("PRESENCE_STATE(") and variable.endswith(")"):
            presentity = variable[len("PRESENCE_STATE(") : -1]
            status, _, rest = value.partition(",")
            subtype, _, message = rest.partition(",")
            self.pbx.presence[presentity] = status
            self.pbx.emit(
                "PresenceStateChange",
                "call,all",
                [("Presentity", presentity), ("Status", status), ("Subtype", subtype), ("Message", message)],
            )
        elif "Channel" in frame:
            self._channel(frame)
        session.send(respond(frame, "Success", "Variable Set"))

    # ---------------------------------------------------------------- lists (snapshots)

    def _list(
        self,
        session: Session,
        frame: Frame,
        message: str,
        rows: list[Headers],
        complete: str,
        tail: Headers | None = None,
        id_last: bool = False,
    ) -> None:
        session.send(respond(frame, "Success", None, [("EventList", "start"), ("Message", message)]))
        aid: Headers = [("ActionID", _s(frame, "ActionID"))] if "ActionID" in frame else []
        for row in rows:
            name, body = row[0][1], row[1:]
            session.send([("Event", name), *body, *aid] if id_last else [("Event", name), *aid, *body])
        session.send(
            [
                ("Event", complete),
                *aid,
                ("EventList", "Complete"),
                ("ListItems", str(len(rows))),
                *(tail or []),
            ]
        )

    def do_PJSIPShowContacts(self, session: Session, frame: Frame) -> None:
        rows: list[Headers] = []
        for ext in self.pbx.layout.extensions:
            if ext not in self.pbx.registered:
                continue
            uri = self.pbx.contacts[ext]
            rows.append(
                [
                    ("Event", "ContactList"),
                    ("ObjectType", "contact"),
                    ("ObjectName", f"{ext};@{abs(hash(uri)):032x}"[:38]),
                    ("ViaAddr", "127.0.0.1"),
                    ("QualifyTimeout", "3.000000"),
                    ("Qualify2xxOnly", "false"),
                    ("CallId", f"{abs(hash(ext + uri)):016x}"[:16]),
                    ("RegServer", ""),
                    ("PruneOnBoot", "no"),
                    ("Path", ""),
                    ("Endpoint", ext),
                    ("ViaPort", uri.rsplit(":", 1)[-1]),
                    ("AuthenticateQualify", "no"),
                    ("Uri", uri),
                    ("QualifyFrequency", "0"),
                    ("UserAgent", "Switchboard simulator phone"),
                    ("ExpirationTime", str(int(time.time()) + 3600)),
                    ("OutboundProxy", ""),
                    ("Status", "NonQualified"),
                    ("RoundtripUsec", "N/A"),
                ]
            )
        self._list(
            session,
            frame,
            "A listing of Contacts follows, presented as ContactList events",
            rows,
            "ContactListComplete",
        )

    def do_DeviceStateList(self, session: Session, frame: Frame) -> None:
        pbx = self.pbx
        rows: list[Headers] = [
            [("Event", "DeviceStateChange"), ("Device", f"PJSIP/{pbx.layout.trunk}"), ("State", "NOT_INUSE")]
        ]
        for ext in pbx.layout.extensions:
            rows.append(
                [("Event", "DeviceStateChange"), ("Device", f"MWI:{ext}@default"), ("State", "NOT_INUSE")]
            )
            rows.append(
                [
                    ("Event", "DeviceStateChange"),
                    ("Device", f"PJSIP/{ext}"),
                    ("State", pbx._device_state(ext)),
                ]
            )
        for ext in sorted(pbx.dnd):
            rows.append([("Event", "DeviceStateChange"), ("Device", f"Custom:DND{ext}"), ("State", "BUSY")])
        for q in pbx.queues.values():
            avail = any(pbx._member_free(q, m) for m in q.members.values())
            rows.append(
                [
                    ("Event", "DeviceStateChange"),
                    ("Device", f"Queue:{q.name}_avail"),
                    ("State", "NOT_INUSE" if avail else "INUSE"),
                ]
            )
            for m in q.members.values():
                rows.append(
                    [
                        ("Event", "DeviceStateChange"),
                        ("Device", f"Queue:{q.name}_pause_{m.interface}"),
                        ("State", "INUSE" if m.paused else "NOT_INUSE"),
                    ]
                )
        self._list(session, frame, "Device State Changes will follow", rows, "DeviceStateListComplete")

    def do_ExtensionStateList(self, session: Session, frame: Frame) -> None:
        rows = [
            [("Event", "ExtensionStatus"), *self.pbx._ext_status_headers(ext)]
            for ext in self.pbx.layout.extensions
        ]
        self._list(session, frame, "Extension Statuses will follow", rows, "ExtensionStateListComplete")

    def _app(self, ch: Channel) -> tuple[str, str]:
        if ch.originate is not None and ch.state != UP:
            return "AppDial2", "(Outgoing Line)"
        if ch.dial_parent is not None or (ch.bridge is not None and ch.app in ("", "AppDial")):
            return "AppDial", "(Outgoing Line)"
        return ch.app, ch.app_data

    def do_CoreShowChannels(self, session: Session, frame: Frame) -> None:
        rows: list[Headers] = []
        for ch in sorted(self.pbx.channels.values(), key=lambda c: c.created, reverse=True):
            app, data = self._app(ch)
            secs = int(time.time() - ch.created)
            rows.append(
                [
                    ("Event", "CoreShowChannel"),
                    *channel_block(ch),
                    ("Application", app),
                    ("ApplicationData", data),
                    ("Duration", f"{secs // 3600:02d}:{secs // 60 % 60:02d}:{secs % 60:02d}"),
                    ("BridgeId", ch.bridge.uniqueid if ch.bridge else ""),
                ]
            )
        self._list(session, frame, "Channels will follow", rows, "CoreShowChannelsComplete")

    def do_Status(self, session: Session, frame: Frame) -> None:
        only = _s(frame, "Channel")
        chans = [c for c in self.pbx.channels.values() if not only or c.name == only]
        if only and not chans:
            raise SimError("No such channel")
        session.send(
            respond(
                frame, "Success", None, [("EventList", "start"), ("Message", "Channel status will follow")]
            )
        )
        aid: Headers = [("ActionID", _s(frame, "ActionID"))] if "ActionID" in frame else []
        for ch in sorted(chans, key=lambda c: c.created, reverse=True):
            app, data = self._app(ch)
            session.send(
                [
                    ("Event", "Status"),
                    ("Privilege", "Call"),
                    *channel_block(ch),
                    ("Type", "PJSIP" if ch.name.startswith("PJSIP/") else "Local"),
                    ("DNID", ""),
                    ("EffectiveConnectedLineNum", ch.conn_num),
                    ("EffectiveConnectedLineName", ch.conn_name),
                    ("TimeToHangup", "0"),
                    ("BridgeID", ch.bridge.uniqueid if ch.bridge else ""),
                    ("Application", app),
                    ("Data", data),
                    ("Nativeformats", "(ulaw)"),
                    ("Readformat", "ulaw"),
                    ("Readtrans", ""),
                    ("Writeformat", "ulaw"),
                    ("Writetrans", ""),
                    ("Callgroup", "0"),
                    ("Pickupgroup", "0"),
                    ("Seconds", str(int(time.time() - ch.created))),
                    *aid,
                ]
            )
        n = str(len(chans))
        session.send(
            [("Event", "StatusComplete"), *aid, ("EventList", "Complete"), ("ListItems", n), ("Items", n)]
        )

    def do_BridgeList(self, session: Session, frame: Frame) -> None:
        kind = _s(frame, "BridgeType")
        rows = [
            [("Event", "BridgeListItem"), *bridge_block(b)]
            for b in self.pbx.bridges.values()
            if (not kind or b.type == kind) and b.channels
        ]
        self._list(session, frame, "Bridge listing will follow", rows, "BridgeListComplete")

    def do_BridgeInfo(self, session: Session, frame: Frame) -> None:
        bridge = self.pbx.bridges.get(_s(frame, "BridgeUniqueid"))
        if bridge is None:
            raise SimError(f"Bridge {_s(frame, 'BridgeUniqueid')} not found")
        rows = [[("Event", "BridgeInfoChannel"), *channel_block(ch)] for ch in bridge.channels]
        session.send(
            respond(
                frame,
                "Success",
                None,
                [("EventList", "start"), ("Message", "Bridge channel listing will follow")],
            )
        )
        aid: Headers = [("ActionID", _s(frame, "ActionID"))] if "ActionID" in frame else []
        for row in rows:
            session.send([row[0], *aid, *row[1:]])
        session.send(
            [
                ("Event", "BridgeInfoComplete"),
                *aid,
                *bridge_block(bridge),
                ("EventList", "Complete"),
                ("ListItems", str(len(rows))),
            ]
        )

    def do_ParkedCalls(self, session: Session, frame: Frame) -> None:
        rows = [
            [("Event", "ParkedCall"), *self.pbx._parked_headers(ch)]
            for _, ch in sorted(self.pbx.parking.items())
        ]
        self._list(
            session,
            frame,
            "Parked calls will follow",
            rows,
            "ParkedCallsComplete",
            [("Total", str(len(rows)))],
            id_last=True,
        )

    def do_QueueStatus(self, session: Session, frame: Frame) -> None:
        only = _s(frame, "Queue")
        rows: list[Headers] = []
        now = time.time()
        for q in self.pbx.queues.values():
            if only and q.name != only:
                continue
            rows.append(
                [
                    ("Event", "QueueParams"),
                    ("Queue", q.name),
                    ("Max", "0"),
                    ("Strategy", q.strategy),
                    ("Calls", str(len(q.callers))),
                    ("Holdtime", "0"),
                    ("TalkTime", "0"),
                    ("Completed", str(q.completed)),
                    ("Abandoned", str(q.abandoned)),
                    ("ServiceLevel", "0"),
                    ("ServicelevelPerf", "0.0"),
                    ("ServicelevelPerf2", "0.0"),
                    ("Weight", "0"),
                ]
            )
            for m in reversed(q.members.values()):
                rows.append(
                    [
                        ("Event", "QueueMember"),
                        ("Queue", q.name),
                        ("Name", m.name),
                        ("Location", m.interface),
                        ("StateInterface", m.interface),
                        ("Membership", m.membership),
                        ("Penalty", "0"),
                        ("CallsTaken", str(m.calls_taken)),
                        ("LastCall", str(m.last_call)),
                        ("LastPause", str(m.last_pause)),
                        ("LoginTime", str(m.login_time)),
                        ("InCall", "1" if m.in_call else "0"),
                        ("Status", str(m.status)),
                        ("Paused", "1" if m.paused else "0"),
                        ("PausedReason", m.reason),
                        ("Wrapuptime", "0"),
                    ]
                )
            for pos, ch in enumerate(q.callers, 1):
                rows.append(
                    [
                        ("Event", "QueueEntry"),
                        ("Queue", q.name),
                        ("Position", str(pos)),
                        ("Channel", ch.name),
                        ("Uniqueid", ch.uniqueid),
                        ("CallerIDNum", ch.cid_num),
                        ("CallerIDName", ch.cid_name),
                        ("ConnectedLineNum", ch.conn_num),
                        ("ConnectedLineName", ch.conn_name),
                        ("Wait", str(int(now - ch.queue_joined))),
                        ("Priority", "0"),
                    ]
                )
        self._list(session, frame, "Queue status will follow", rows, "QueueStatusComplete", id_last=True)

    # ---------------------------------------------------------------- call control

    def do_Originate(self, session: Session, frame: Frame) -> None:
        channel = _s(frame, "Channel")
        if not channel:
            raise SimError("Channel not specified")
        exten, app = _s(frame, "Exten"), _s(frame, "Application")
        if not exten and not app:
            raise SimError("Exten not specified")
        timeout = _s(frame, "Timeout", "30000")
        session.send(respond(frame, "Success", "Originate successfully queued"))
        self.pbx.later(
            None,
            0.0,
            lambda: self.pbx.originate(
                channel=channel,
                action_id=_s(frame, "ActionID"),
                emit_response=session.send,
                context=_s(frame, "Context", "default"),
                exten=exten,
                priority=_s(frame, "Priority", "1"),
                application=app,
                data=_s(frame, "Data"),
                caller_id=_caller_id(_s(frame, "CallerID")),
                timeout_ms=int(timeout) if timeout.isdigit() else 30000,
            ),
        )

    def do_Hangup(self, session: Session, frame: Frame) -> None:
        ch = self._channel(frame)
        cause = _s(frame, "Cause", "16")
        session.send(respond(frame, "Success", "Channel Hungup"))
        self.pbx.hangup(ch, int(cause) if cause.isdigit() else 16, soft=True)

    def do_Redirect(self, session: Session, frame: Frame) -> None:
        ch = self._channel(frame, error="Channel does not exist: {name}")
        extra = None
        if _s(frame, "ExtraChannel"):
            extra = self._channel(frame, "ExtraChannel", error="Channel does not exist: {name}")
        context, exten = _s(frame, "Context"), _s(frame, "Exten")
        prio = _s(frame, "Priority", "1")
        extra_target = None
        if extra is not None:
            ep = _s(frame, "ExtraPriority", prio)
            extra_target = (
                _s(frame, "ExtraContext", context),
                _s(frame, "ExtraExten", exten),
                int(ep) if ep.isdigit() else 1,
            )
        session.send(
            respond(frame, "Success", "Redirect successful" if extra is None else "Dual Redirect successful")
        )
        self.pbx.redirect(ch, context, exten, int(prio) if prio.isdigit() else 1, extra, extra_target)

    def do_BlindTransfer(self, session: Session, frame: Frame) -> None:
        ch = self._channel(frame)
        if ch.bridge is None:
            raise SimError("Transfer failed")
        session.send(respond(frame, "Success", "Transfer succeeded"))
        self.pbx.blind_transfer(ch, _s(frame, "Context", "internal"), _s(frame, "Exten"))

    def do_Atxfer(self, session: Session, frame: Frame) -> None:
        ch = self._channel(frame, error="Channel specified does not exist")
        if ch.bridge is None:
            raise SimError("Channel specified does not exist")
        session.send(respond(frame, "Success", "Atxfer successfully queued"))
        self.pbx.atxfer(ch, _s(frame, "Context", "internal"), _s(frame, "Exten"))

    def do_CancelAtxfer(self, session: Session, frame: Frame) -> None:
        ch = self._channel(frame, error="Channel specified does not exist")
        if ch.atxfer is None:
            raise SimError("No active transfer attempt")
        session.send(respond(frame, "Success", "CancelAtxfer successfully queued"))
        self.pbx.cancel_atxfer(ch)

    def do_Park(self, session: Session, frame: Frame) -> None:
        ch = self._channel(frame, error="Channel does not exist: {name}")
        timeout_ch = None
        if _s(frame, "TimeoutChannel"):
            timeout_ch = self._channel(frame, "TimeoutChannel", error="Channel does not exist: {name}")
        # Asterisk's text carries a trailing blank line here (trace 07): an empty header line.
        session.send(respond(frame, "Success", "Park successful"))
        self.pbx.park(ch, timeout_ch)

    def do_MixMonitor(self, session: Session, frame: Frame) -> None:
        ch = self._channel(frame)
        session.send(respond(frame, "Success", None))
        if not ch.mixmonitor:
            ch.mixmonitor = True
            self.pbx.emit("MixMonitorStart", "call,all", channel_block(ch))

    def do_StopMixMonitor(self, session: Session, frame: Frame) -> None:
        ch = self._channel(frame)
        if not ch.mixmonitor:
            raise SimError("Could not stop MixMonitor")
        session.send(respond(frame, "Success", None))
        ch.mixmonitor = False
        self.pbx.emit("MixMonitorStop", "call,all", channel_block(ch))

    # ---------------------------------------------------------------- queues

    def do_QueuePause(self, session: Session, frame: Frame) -> None:
        interface = _s(frame, "Interface")
        if not interface:
            raise SimError("Need 'Interface' and 'Paused' headers")
        paused = _truthy(_s(frame, "Paused"))
        self._then(
            session,
            frame,
            "Interface paused successfully" if paused else "Interface unpaused successfully",
            lambda: self.pbx.queue_pause(_s(frame, "Queue") or None, interface, paused, _s(frame, "Reason")),
        )

    def do_QueueAdd(self, session: Session, frame: Frame) -> None:
        queue, interface = _s(frame, "Queue"), _s(frame, "Interface")
        if not queue or not interface:
            raise SimError("'Queue' and 'Interface' headers are required")
        paused = _truthy(_s(frame, "Paused", "false"))
        self._then(
            session,
            frame,
            "Added interface to queue",
            lambda: self.pbx.queue_add(queue, interface, _s(frame, "MemberName"), paused),
        )

    def do_QueueRemove(self, session: Session, frame: Frame) -> None:
        queue, interface = _s(frame, "Queue"), _s(frame, "Interface")
        if not queue or not interface:
            raise SimError("Need 'Queue' and 'Interface' parameters.")
        self._then(
            session, frame, "Removed interface from queue", lambda: self.pbx.queue_remove(queue, interface)
        )


def _tv() -> str:
    from telephony.simulator.server import _tv as tv

    return tv()


__all__ = ["EXT_TEXT", "Actions"]
