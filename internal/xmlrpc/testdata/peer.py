"""Python's own xmlrpc.client against a Basalt xmlrpc.Server (see peer_test.go).

Usage: peer.py URL  (URL carries user:token as lavacli's identities do)
Every check asserts; the printed lines are compared with python-peer.golden.
"""
import datetime
import sys
import xmlrpc.client

url = sys.argv[1]
# As lavacli builds its proxy: allow_none, default (non-builtin) types.
lava = xmlrpc.client.ServerProxy(url, allow_none=True)
# Builtin types give stable reprs (datetime, bytes) for the golden output.
builtin = xmlrpc.client.ServerProxy(url, allow_none=True, use_builtin_types=True)


def out(name, value):
    print("%s: %r" % (name, value))


# Replies of every type, read as lavacli reads them.
s = lava.sample()
assert isinstance(s["submit_time"], xmlrpc.client.DateTime), s
assert s["submit_time"].value == "20260102T03:04:05", s["submit_time"].value
assert isinstance(s["log"], xmlrpc.client.Binary) and str(s["log"]) == "- {lvl: info}\n", s["log"]
assert s["end_time"] is None
assert list(s.keys()) == ["id", "big", "health_check", "description", "ratio", "submit_time",
                          "end_time", "log", "tags", "nested"], list(s.keys())
out("sample keys", list(s.keys()))
out("sample", builtin.sample())

# Parameters of every type, echoed back: Python -> Go -> Python.
now = datetime.datetime(2026, 7, 8, 9, 10, 11)
params = [0, -5, 2**31 - 1, -2**31, True, False, "", "café ☕ 𝄞 \u2028", "a & b <c>\nd",
          1.25, -0.0, 1e300, float("inf"), now, b"\x00\x01\xff", None, [], {},
          [1, ["deep", {"k": [None]}]], {"a": 1, "b": {"c": [b"x"]}}]
back = builtin.echo(*params)
assert back == params, (back, params)
out("echo", back)
# Python's marshaller writes "\r" raw, so XML line-end normalisation turns
# "\r\n" into "\n" on the way in (LAVA's server receives the same); Basalt
# writes "&#13;", so a "\r" it sends arrives.
out("echo CRLF", builtin.echo("a\r\nb"))
out("crlf", builtin.crlf())
assert builtin.crlf() == "a\r\nb"
back = lava.echo(xmlrpc.client.DateTime(now), xmlrpc.client.Binary(b"bin"))
assert back[0].value == "20260708T09:10:11" and back[1].data == b"bin", back
out("echo DateTime/Binary .value/.data", [back[0].value, back[1].data])

# Ints beyond 32 bits: Python's marshaller refuses to send them ...
try:
    lava.echo(2**31)
    raise AssertionError("2**31 was sent")
except OverflowError as e:
    out("send 2**31", "OverflowError: %s" % e)
# ... but reads the <i8> Basalt writes for them.
assert lava.big() == [2**31, 2**40, -2**63], lava.big()
out("big", lava.big())

# Basic auth from the URL, as lavacli sends it.
out("whoami", lava.whoami())
anon = xmlrpc.client.ServerProxy(url.split("//")[0] + "//" + url.split("@", 1)[1], allow_none=True)
assert anon.whoami() is None
out("whoami anonymous", anon.whoami())

# Faults: code and string reach the caller as xmlrpc.client.Fault.
for method in ["fault", "boom", "panic", "no.such.method"]:
    try:
        getattr(lava, method)()
        raise AssertionError(method + " did not fault")
    except xmlrpc.client.Fault as f:
        out("fault " + method, (f.faultCode, f.faultString))

# Introspection, as `lavacli system methods list/help/signature` calls it.
out("listMethods", lava.system.listMethods())
out("methodHelp fault", lava.system.methodHelp("fault"))
out("methodHelp echo", lava.system.methodHelp("echo"))
out("methodHelp unknown", lava.system.methodHelp("nope"))
out("methodSignature fault", lava.system.methodSignature("fault"))
out("methodSignature echo", lava.system.methodSignature("echo"))
out("methodSignature unknown", lava.system.methodSignature("nope"))

# system.multicall through xmlrpc.client.MultiCall.
mc = xmlrpc.client.MultiCall(builtin)
mc.echo("one", 1)
mc.fault()
mc.whoami()
mc.no.such.method()
results = []
it = mc()
for i in range(4):
    try:
        results.append(it[i])
    except xmlrpc.client.Fault as f:
        results.append(("Fault", f.faultCode, f.faultString))
out("multicall", results)
raw = builtin.system.multicall([{"methodName": "echo"}, "x", {"methodName": "echo", "params": [2], "x": 1}])
out("multicall malformed", raw)
print("done")
