"""One MultiNode job's coordinator traffic, made by LAVA's own client.

Run by interop_test.go with /usr/bin/python3 (Debian's lava-dispatcher).
argv[1] is a JSON object:
  {"config": path of a lava-coordinator.conf, "group": target_group,
   "size": group_size, "job_id": "1", "role": "server",
   "steps": [call, ...]}
where a call is what a job's protocol block would pass to the protocol,
e.g. {"request": "lava-send", "messageID": "ip", "message": {"k": "v"}},
or the strings "group_data" (what set_up sends, via initialise_group) and "finalise" (what the
end of the job sends). Prints one JSON line per step: the step and what
LAVA's protocol returned.
"""

import json
import socket
import sys

from lava_dispatcher.protocols.multinode import MultinodeProtocol


def main():
    spec = json.loads(sys.argv[1])
    name = MultinodeProtocol.name
    params = {
        "protocols": {
            name: {
                "target_group": spec["group"],
                "role": spec["role"],
                "group_size": spec["size"],
            }
        }
    }
    proto = MultinodeProtocol(params, spec["job_id"])
    # What set_up does, minus its fixed /etc path.
    proto.settings = proto.read_settings(spec["config"])
    proto.base_message = {
        "port": proto.settings["port"],
        "blocksize": proto.settings["blocksize"],
        "poll_delay": proto.settings["poll_delay"],
        "host": proto.settings["coordinator_hostname"],
        "hostname": socket.gethostname(),
        "client_name": proto.job_id,
        "group_name": spec["group"],
        "role": spec["role"],
    }
    for step in spec["steps"]:
        if step == "group_data":
            # initialise_group() sends exactly this but drops the reply.
            msg = {"request": "group_data", "group_size": spec["size"]}
            reply = json.loads(proto._send(msg, True))
        elif step == "finalise":
            proto.finalise_protocol()
            reply = "finalised"
        else:
            reply = proto(step)
        print(json.dumps({"step": step, "reply": reply}, sort_keys=True), flush=True)


if __name__ == "__main__":
    main()
