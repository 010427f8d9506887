# Drives basalt vland with lava-dispatcher's own VLANd client (Debian's
# lava-dispatcher 2023.01, lava_dispatcher.protocols.vland): the calls a
# job's first sub-job makes, in LAVA's order, printing what LAVA got back
# after each as one JSON line. argv: port, switch name, port number.
import json
import sys

from lava_dispatcher.protocols.vland import VlandProtocol

port, switch, number = int(sys.argv[1]), sys.argv[2], sys.argv[3]
params = {
    "protocols": {
        "lava-multinode": {"target_group": "arbitrary-group-id", "sub_id": 0},
        "lava-vland": {"vlan_one": {"tags": ["1G"]}},
    }
}
p = VlandProtocol(params, "4212")
p.set_up()
p.settings.update({"port": port, "vland_hostname": "127.0.0.1"})
p.base_message.update({"port": port, "host": "127.0.0.1"})
p.names = {"vlan_one": "4212vlanone"}


def step(name, value):
    print(json.dumps({"step": name, "value": value}), flush=True)
    sys.stdin.readline()  # the test checks the daemon, then says go on


vlan_id, tag = p._create_vlan("vlan_one")
step("create_vlan", [vlan_id, tag])
switch_id = p._lookup_switch_id(switch)
port_id = p._lookup_port_id(switch_id, number)
step("lookup", [switch_id, port_id])
p._set_port_onto_vlan(vlan_id, port_id)
step("set_port_onto_vlan", port_id)
p._restore_port(port_id)
step("restore_port", port_id)
p._delete_vlan("vlan_one", vlan_id)
step("delete_vlan", vlan_id)
