"""Guarded instruments: one lock per physical instrument, driver errors named, link errors flagged, and a
reconnect that restores the session's settings."""

from __future__ import annotations

import threading

import pytest

from nanocell_daq.engine.guard import Guarded, Instruments, reconnect
from procedures.context import InstrumentFault, StepAborted, StepFault


class _Driver:
    def __init__(self) -> None:
        self.level = 0.0
        self.calls: list[str] = []

    def set_voltage(self, v: float) -> float:
        self.calls.append(f"set {v}")
        self.level = v
        return v

    def fail(self, exc: BaseException) -> None:
        raise exc

    @property
    def reading(self) -> float:
        raise OSError("garbled")

    @property
    def power_mW(self) -> float:
        return self.level

    @power_mW.setter
    def power_mW(self, value: float) -> None:
        if value < 0:
            raise ValueError("negative power")
        self.level = value


def _guarded(driver=None, name="smu") -> Guarded:
    return Guarded(driver or _Driver(), threading.RLock(), name)


def test_calls_and_attributes_pass_through():
    g = _guarded()
    assert g.set_voltage(0.5) == 0.5 and g.power_mW == 0.5
    g.power_mW = 0.2
    assert g._obj.level == 0.2 and g._obj.calls == ["set 0.5"]


def test_a_driver_error_becomes_an_instrument_fault_naming_the_instrument_and_the_call():
    g = _guarded(name="smu")
    with pytest.raises(InstrumentFault) as info:
        g.fail(TimeoutError("no reply"))
    assert str(info.value) == "smu.fail: TimeoutError: no reply" and info.value.link_error is False
    assert isinstance(info.value.__cause__, TimeoutError)
    with pytest.raises(InstrumentFault, match=r"^smu\.reading: OSError: garbled$"):
        _ = g.reading
    with pytest.raises(InstrumentFault, match=r"^smu\.power_mW = -1\.0: ValueError: negative power$"):
        g.power_mW = -1.0


@pytest.mark.parametrize("exc", [ConnectionError("reset"), BrokenPipeError("pipe"), EOFError("eof")])
def test_a_dropped_link_is_flagged_for_a_reconnect(exc):
    with pytest.raises(InstrumentFault) as info:
        _guarded().fail(exc)
    assert info.value.link_error is True


def test_a_visa_io_error_is_a_link_error_by_its_name():
    VisaIOError = type("VisaIOError", (Exception,), {})
    with pytest.raises(InstrumentFault) as info:
        _guarded().fail(VisaIOError("VI_ERROR_CONN_LOST"))
    assert info.value.link_error is True


@pytest.mark.parametrize("exc", [StepAborted("abort"), StepFault("policy"), KeyboardInterrupt()])
def test_aborts_faults_and_ctrl_c_are_not_wrapped(exc):
    with pytest.raises(type(exc)):
        _guarded().fail(exc)


def test_a_missing_attribute_stays_an_attribute_error():
    with pytest.raises(AttributeError):
        _ = _guarded().no_such_thing


def test_roles_of_one_instrument_share_its_lock_and_other_instruments_do_not():
    pstat, smu = _Driver(), _Driver()
    roles = {"galvanostat": pstat, "potentiostat": pstat, "source_meter": smu}
    inst = Instruments(roles, {"galvanostat": "p"})
    assert inst.guarded["galvanostat"]._lock is inst.guarded["potentiostat"]._lock
    assert inst.guarded["galvanostat"]._lock is not inst.guarded["source_meter"]._lock
    assert inst.guarded["galvanostat"]._name == "p" and inst.guarded["source_meter"]._name == "source_meter"
    assert inst.has("galvanostat") and not inst.has("stage")
    with pytest.raises(StepFault, match="the station has no 'stage' role"):
        inst.role("stage")


def test_a_call_holds_the_instrument_lock():
    held = []
    lock = threading.RLock()

    class Probe:
        def check(self):
            acquired = lock.acquire(blocking=False)  # an RLock: the same thread may re-enter
            held.append(acquired)
            other = []
            t = threading.Thread(target=lambda: other.append(lock.acquire(blocking=False)))
            t.start()
            t.join()
            held.append(other[0])
            if acquired:
                lock.release()

    Guarded(Probe(), lock, "probe").check()
    assert held == [True, False]  # another thread could not take the lock during the call


class _Conn:
    def __init__(self, fail_open: bool = False) -> None:
        self.timeout, self.read_termination, self.write_termination = 5000, "\r", "\n"
        self.fail_open, self.events = fail_open, []

    def close(self) -> None:
        self.events.append("close")

    def open(self) -> None:
        self.events.append("open")
        if self.fail_open:
            raise OSError("refused")
        self.timeout, self.read_termination, self.write_termination = 2000, "\n", "\r\n"  # VISA defaults


def _with_connection(conn: _Conn, holder: str = "self"):
    adapter = type("Adapter", (), {"connection": conn})()
    if holder == "self":
        return type("Driver", (), {"adapter": adapter})()
    inner = type("Inner", (), {"adapter": adapter})()
    return type("Router", (), {holder: inner})()


@pytest.mark.parametrize("holder", ["self", "matrix", "instrument"])
def test_reconnect_reopens_the_session_and_puts_back_its_settings(holder):
    conn = _Conn()
    assert reconnect(_with_connection(conn, holder)) is True
    assert conn.events == ["close", "open"]
    assert (conn.timeout, conn.read_termination, conn.write_termination) == (5000, "\r", "\n")


def test_reconnect_that_cannot_reopen_says_so_and_nothing_to_reconnect_is_false():
    conn = _Conn(fail_open=True)
    assert reconnect(_with_connection(conn)) is False and conn.events == ["close", "open"]
    assert reconnect(object()) is False
    assert Guarded(_with_connection(_Conn()), threading.RLock(), "x")._recover() is True
