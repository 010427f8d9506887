package events

import (
	"encoding/json"
	"strconv"
	"strings"
	"time"
)

// IsoTime is Python's datetime.isoformat() of an aware UTC time, as LAVA
// writes event times: "2026-01-01T10:00:00.123456+00:00", the fraction
// left out when it is zero.
func IsoTime(t time.Time) string {
	t = t.UTC()
	if t.Nanosecond()/1000 == 0 {
		return t.Format("2006-01-02T15:04:05") + "+00:00"
	}
	return t.Format("2006-01-02T15:04:05.000000") + "+00:00"
}

// jobData is signals.py testjob_post_handler's dict, in its key order.
type jobData struct {
	Health      string `json:"health"`
	State       string `json:"state"`
	Job         int64  `json:"job"`
	Description string `json:"description"`
	Priority    int    `json:"priority"`
	SubmitTime  string `json:"submit_time"`
	Submitter   string `json:"submitter"`
	HealthCheck bool   `json:"health_check"`
	SubID       string `json:"sub_id,omitempty"`
	Device      string `json:"device,omitempty"`
	Worker      string `json:"worker,omitempty"`
	DeviceType  string `json:"device_type,omitempty"`
	StartTime   string `json:"start_time,omitempty"`
	EndTime     string `json:"end_time,omitempty"`
}

// deviceData is device_post_handler's dict.
type deviceData struct {
	Health     string  `json:"health"`
	State      string  `json:"state"`
	Device     string  `json:"device"`
	DeviceType string  `json:"device_type"`
	Worker     *string `json:"worker"`
	Job        any     `json:"job,omitempty"`
}

// workerData is worker_post_handler's dict.
type workerData struct {
	Hostname string `json:"hostname"`
	Health   string `json:"health"`
	State    string `json:"state"`
}

// Data is the event's data as LAVA sends it (the fifth element of the
// message, a JSON object).
func (e Event) Data() []byte {
	var v any
	switch {
	case e.Kind == TestJob && e.Job != nil:
		j := e.Job
		d := jobData{Health: string(j.Health), State: string(j.State), Job: j.ID, Description: j.Description,
			Priority: j.Priority, SubmitTime: IsoTime(j.Submitted), Submitter: j.Submitter, HealthCheck: j.HealthCheck,
			Device: j.Device, DeviceType: j.DeviceType}
		if j.Group != "" {
			// LAVA's sub_id is the display id "first.sub".
			first := j.GroupFirst
			if first == 0 {
				first = j.ID - int64(j.SubID)
			}
			d.SubID = strconv.FormatInt(first, 10) + "." + strconv.Itoa(j.SubID)
		}
		if j.Device != "" {
			d.Worker = e.JobWorker
		}
		if !j.Started.IsZero() {
			d.StartTime = IsoTime(j.Started)
		}
		if !j.Ended.IsZero() {
			d.EndTime = IsoTime(j.Ended)
		}
		v = d
	case e.Kind == Device && e.Device != nil:
		d := deviceData{Health: string(e.Device.Health), State: string(e.Device.State), Device: e.Device.Name, DeviceType: e.Device.DeviceType}
		if e.Device.Worker != "" {
			d.Worker = &e.Device.Worker
		}
		if e.DeviceJob != "" {
			// display_id: an int, or "first.sub" for a MultiNode sub-job
			if n, err := strconv.ParseInt(e.DeviceJob, 10, 64); err == nil && !strings.Contains(e.DeviceJob, ".") {
				d.Job = n
			} else {
				d.Job = e.DeviceJob
			}
		}
		v = d
	case e.Kind == Worker && e.Worker != nil:
		v = workerData{Hostname: e.Worker.Name, Health: string(e.Worker.Health), State: string(e.Worker.State)}
	default:
		return []byte("{}")
	}
	b, _ := json.Marshal(v) // plain strings, ints and bools: cannot fail
	return b
}

// Message is the event as lava-publisher sends it on the WebSocket: five
// strings, [topic, uuid, datetime, username, data as JSON text].
func (e Event) Message(topic string) []string {
	if topic == "" {
		topic = DefaultTopic
	}
	return []string{topic + "." + string(e.Kind), e.UUID, IsoTime(e.Time), e.Username, string(e.Data())}
}
