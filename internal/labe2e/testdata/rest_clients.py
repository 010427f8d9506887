#!/usr/bin/python3
"""The REST v0.2 calls LAVA's external clients make, made the way they make
them (shared/reference/lava-clients.md §4.3), against a Basalt server:

* KernelCI (kernelci/runtime/lava): a requests session with the params
  format=json&limit=256 and the headers "authorization: Token <t>" and
  "content-type: application/json" on every request; POST jobs/ with
  JSON {definition} read as job_ids[0]; GET jobs/<id> (no slash) until
  state is Finished; devices and aliases (no slash) following "next".
* SQUAD's REST mode (squad/ci/backend/lava.py): POST jobs/ as a form,
  POST jobs/<id>/cancel and jobs/<id>/resubmit without the slash,
  GET jobs/<id>/logs/, suites/ and suites/<sid>/tests/ following "next"
  with metadata YAML-parsed when a string, GET system/master_config/.
* Collabora's lava-api (Rust): the Token header, redirects never followed,
  jobs/?ordering=&state=&limit=&id__gt=, logs read by start/end ranges
  where 404 means "no data", tests/, devices/, workers/, tags/.

Usage: rest_clients.py BASE_URL USER_TOKEN OTHER_TOKEN JOB_YAML
BASE_URL is the server's root (http://host:port). The QEMU job in JOB_YAML
is submitted and run to its end; a second copy is canceled and resubmitted
(and that one canceled too). Every check that fails raises; the script
prints one line per call made.
"""

import sys
import time

import requests
import yaml


def log(*args):
    print(*args, flush=True)


def check(cond, what):
    if not cond:
        raise AssertionError(what)


def follow(session, url, **kw):
    """GET url and every "next" page after it, as the clients do: the next
    URL is used verbatim (absolute, with its own query)."""
    results = []
    pages = 0
    while url:
        r = session.get(url, allow_redirects=False, **kw)
        check(r.status_code == 200, "GET %s: %d %s" % (url, r.status_code, r.text[:300]))
        data = r.json()
        for k in ("count", "next", "previous", "results"):
            check(k in data, "page %s has no %r" % (url, k))
        results.extend(data["results"])
        pages += 1
        url = data["next"]
        if url:
            check(url.startswith("http://") or url.startswith("https://"), "next is not absolute: %r" % url)
        if pages > 1000:
            raise AssertionError("more than 1000 pages at %s" % url)
    check(len(results) == data["count"] or pages == 1, "followed %d results, count says %d" % (len(results), data["count"]))
    return results, pages


def kernelci(base, token, definition):
    api = base + "/api/v0.2/"
    s = requests.Session()
    s.params = {"format": "json", "limit": 256}
    s.headers.update({"authorization": "Token %s" % token, "content-type": "application/json"})

    r = s.post(api + "jobs/", json={"definition": definition}, allow_redirects=False)
    r.raise_for_status()
    check(r.status_code == 201, "submit: %d" % r.status_code)
    job_id = r.json()["job_ids"][0]
    check(isinstance(job_id, int), "job_ids[0] %r is not an int" % job_id)
    log("kernelci: POST jobs/ ->", r.status_code, job_id)

    # Device discovery: devices and aliases (no slash), following next;
    # a limit of 1 here makes the walk take several pages.
    devices, pages = follow(s, api + "devices", params={"format": "json", "limit": 1})
    check(pages >= 2, "devices fit in one page of 1: %d pages" % pages)
    online = [d["hostname"] for d in devices if d["health"] == "Good"]
    check("qemu01" in online and all("device_type" in d for d in devices), "devices: %r" % devices)
    log("kernelci: GET devices ->", len(devices), "devices in", pages, "pages; online:", online)
    aliases, _ = follow(s, api + "aliases")
    check(all("name" in a and "device_type" in a for a in aliases), "aliases: %r" % aliases)
    log("kernelci: GET aliases ->", aliases)

    # wait(): GET jobs/<id> (no slash) until Finished.
    deadline = time.time() + 900
    while True:
        r = s.get(api + "jobs/%d" % job_id, allow_redirects=False)
        check(r.status_code == 200, "GET jobs/%d: %d" % (job_id, r.status_code))
        job = r.json()
        if job["state"] == "Finished":
            break
        check(time.time() < deadline, "job %d still %s" % (job_id, job["state"]))
        time.sleep(2)
    check(job["health"] == "Complete", "job %d ended %s" % (job_id, job["health"]))
    check(job["submit_time"].endswith("Z") and job["end_time"].endswith("Z"), "times %r" % job)
    log("kernelci: GET jobs/%d ->" % job_id, job["state"], job["health"])
    return job_id


def squad(base, token, definition, done_id):
    api = base + "/api/v0.2/"
    s = requests.Session()
    s.headers.update({"Authorization": "Token %s" % token})

    r = s.post(api + "jobs/", data={"definition": definition})
    check(r.status_code == 201, "form submit: %d %s" % (r.status_code, r.text))
    second = r.json()["job_ids"][0]
    log("squad: POST jobs/ (form) ->", r.status_code, second)

    r = s.get(api + "jobs/%d" % second)
    check(r.status_code == 200 and r.json()["definition"], "GET jobs/%d: %d" % (second, r.status_code))
    log("squad: GET jobs/%d ->" % second, r.json()["state"])

    r = s.post(api + "jobs/%d/cancel" % second)
    check(r.status_code == 200, "POST cancel: %d %s" % (r.status_code, r.text))
    log("squad: POST jobs/%d/cancel ->" % second, r.status_code, r.json()["message"])

    r = s.post(api + "jobs/%d/resubmit" % second)
    check(r.status_code == 201, "POST resubmit: %d %s" % (r.status_code, r.text))
    third = r.json()["job_ids"][0]
    log("squad: POST jobs/%d/resubmit ->" % second, r.status_code, third)
    r = s.post(api + "jobs/%d/cancel" % third)
    check(r.status_code == 200, "POST cancel of the resubmitted job: %d" % r.status_code)
    for jid in (second, third):
        # A job canceled before it started ends at once; one that started
        # ends when its worker stops it.
        deadline = time.time() + 300
        while True:
            job = s.get(api + "jobs/%d" % jid).json()
            if job["state"] == "Finished":
                break
            check(time.time() < deadline, "canceled job %d still %s" % (jid, job["state"]))
            time.sleep(1)
        check(job["health"] == "Canceled", "job %d: %s" % (jid, job["health"]))

    r = s.get(api + "jobs/%d/logs/" % done_id)
    check(r.status_code == 200 and r.headers["Content-Type"] == "application/yaml", "logs: %d %r" % (r.status_code, r.headers))
    lines = yaml.safe_load(r.text)
    check(isinstance(lines, list) and len(lines) > 10, "log is not a YAML list")
    log("squad: GET jobs/%d/logs/ ->" % done_id, len(lines), "lines")

    suites, _ = follow(s, api + "jobs/%d/suites/?limit=1" % done_id)
    names = [x["name"] for x in suites]
    check("lava" in names and any(n.endswith("e2e-smoke") for n in names), "suites %r" % names)
    cases = {}
    for suite in suites:
        tests, _ = follow(s, api + "jobs/%d/suites/%d/tests/?limit=2" % (done_id, suite["id"]))
        for t in tests:
            md = t["metadata"]
            if isinstance(md, str):
                md = yaml.safe_load(md)
            check(md is None or isinstance(md, dict), "metadata %r" % t["metadata"])
            cases[(suite["name"], t["name"])] = t
    smoke = [n for n in names if n.endswith("e2e-smoke")][0]
    check(cases[(smoke, "always-pass")]["result"] == "pass", "always-pass %r" % cases.get((smoke, "always-pass")))
    check(cases[(smoke, "always-fail")]["result"] == "fail", "always-fail")
    check(cases[(smoke, "measured")]["measurement"] == "42.5000000000", "measured %r" % cases[(smoke, "measured")])
    check(cases[(smoke, "skipped")]["result"] == "skip", "skipped")
    log("squad: suites", names, "->", len(cases), "test cases")

    r = s.get(api + "system/master_config/")
    check(r.status_code == 200 and "EVENT_SOCKET" in r.json(), "master_config %d" % r.status_code)
    log("squad: GET system/master_config/ ->", sorted(r.json()))
    return second


def lava_api(base, token, done_id):
    api = base + "/api/v0.2/"
    s = requests.Session()
    s.headers.update({"Authorization": "Token %s" % token})

    def get(path, **kw):
        return s.get(api + path, allow_redirects=False, **kw)

    r = get("jobs/", params={"ordering": "-id", "state": "Finished", "limit": 10, "id__gt": done_id - 1})
    check(r.status_code == 200, "jobs list: %d %s" % (r.status_code, r.text[:300]))
    ids = [j["id"] for j in r.json()["results"]]
    check(done_id in ids and ids == sorted(ids, reverse=True), "jobs %r" % ids)
    for j in r.json()["results"]:
        for k in ("description", "definition", "original_definition", "multinode_definition"):
            check(isinstance(j[k], str), "%s is %r" % (k, j[k]))
        check(all(isinstance(x, int) for x in j["tags"] + j["failure_tags"]), "tags %r" % j)
    log("lava-api: GET jobs/?ordering=-id&state=Finished&id__gt=%d ->" % (done_id - 1), ids)

    # Follow the log as lava-api does: ranges until 404 ("no data").
    whole = get("jobs/%d/logs/" % done_id).text.splitlines()
    got, start, step = [], 0, 7
    while True:
        r = get("jobs/%d/logs/" % done_id, params={"start": start, "end": start + step})
        if r.status_code == 404:
            break
        check(r.status_code == 200, "logs range: %d" % r.status_code)
        for line in r.text.splitlines():
            check(line.startswith("- "), "log line %r" % line)
            rec = yaml.safe_load(line[2:])
            check(isinstance(rec, dict) and "lvl" in rec and "msg" in rec, "log line %r" % line)
            got.append(line)
        start += step
    check(got == whole, "ranges gave %d lines, the whole log %d" % (len(got), len(whole)))
    log("lava-api: GET jobs/%d/logs/?start=&end= ->" % done_id, len(got), "lines, then 404")

    tests, _ = follow(s, api + "jobs/%d/tests/" % done_id)
    check(len(tests) >= 4 and all("result" in t for t in tests), "tests %r" % tests[:3])
    # lava-api's TestCase: logged is a datetime, metadata nested YAML with
    # definition, case and result.
    for t in tests:
        md = yaml.safe_load(t["metadata"])
        check(isinstance(t["logged"], str) and t["logged"].endswith("Z"), "logged %r" % t)
        check(isinstance(md, dict) and all(k in md for k in ("definition", "case", "result")), "metadata %r" % t)
        check(t["measurement"] is None or isinstance(t["measurement"], str), "measurement %r" % t)
    log("lava-api: GET jobs/%d/tests/ ->" % done_id, len(tests))
    for what in ("devices/", "workers/", "tags/"):
        r = get(what)
        check(r.status_code == 200 and r.json()["count"] >= 1, "%s: %d %s" % (what, r.status_code, r.text[:200]))
        log("lava-api: GET", what, "->", r.json()["count"])
    tag_ids = {t["id"] for t in get("tags/").json()["results"]}
    qemu02 = get("devices/qemu02/").json()
    check(len(qemu02["tags"]) == 2 and set(qemu02["tags"]) <= tag_ids, "device tags %r not in tags/ %r" % (qemu02["tags"], tag_ids))


def refusals(base, done_id, definition):
    api = base + "/api/v0.2/"
    r = requests.post(api + "jobs/", json={"definition": definition}, allow_redirects=False)
    check(r.status_code == 403 and r.json() == {"detail": "Authentication credentials were not provided."},
          "anonymous submit: %d %s" % (r.status_code, r.text))
    log("anonymous: POST jobs/ ->", r.status_code, r.json()["detail"])
    r = requests.get(api + "aliases/")
    check(r.status_code == 403, "anonymous aliases: %d" % r.status_code)
    r = requests.get(api + "jobs/", headers={"Authorization": "Token not-a-token"})
    check(r.status_code == 403 and r.json() == {"detail": "Invalid token."}, "bad token: %d %s" % (r.status_code, r.text))
    log("bad token: GET jobs/ ->", r.status_code, r.json()["detail"])
    r = requests.get(api + "jobs/%d/logs/" % done_id, params={"start": 10 ** 9})
    check(r.status_code == 404, "empty log range: %d" % r.status_code)
    log("empty range: GET jobs/%d/logs/?start=1000000000 ->" % done_id, r.status_code)


def main():
    base, token, other, job_file = sys.argv[1:5]
    base = base.rstrip("/")
    with open(job_file) as f:
        definition = f.read()
    done = kernelci(base, token, definition)
    squad(base, other, definition, done)
    lava_api(base, token, done)
    refusals(base, done, definition)
    log("all REST client calls passed")


if __name__ == "__main__":
    main()
