package lab

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"sync"

	"github.com/basalt-lava/basalt/internal/device"
	"github.com/basalt-lava/basalt/internal/limits"
	"github.com/basalt-lava/basalt/internal/store"
)

// A device's configuration check (LAVA's Device.is_valid: the dictionary
// renders through the templates without a job context and parses) is
// remembered twice: in memory by checkKey, and in the store by device with
// its checkKey, so that a restarted server's first pass does not render
// again the devices that have not changed (1,000 devices took 1-2 s of a
// 2-core machine).
//
// checkKey covers all the answer depends on: the device's name and type
// (rendered as scheduled_device_name and scheduled_device_type), the
// dictionary's text, every template set in the store (a dictionary may
// extend any type's template), the template folders and the Basalt binary
// (the shipped templates, the renderer and the parser), the last two by
// fingerprint.

// maxFingerprintFiles bounds the template folders' files fingerprint
// looks at; past it the store's remembered checks are not used.
const maxFingerprintFiles = 20000

// fingerprint identifies the running binary and the template folders by
// the paths, sizes and modification times of their files (read once, at
// New: like the templates themselves, the folders are taken as fixed for
// a server's life). When one cannot be read, it is random: the checks
// remembered by an earlier server then never match.
func fingerprint(dirs []string) string {
	h := sha256.New()
	ok := true
	if exe, err := os.Executable(); err != nil {
		ok = false
	} else if fi, err := os.Stat(exe); err != nil {
		ok = false
	} else {
		fmt.Fprintf(h, "binary %q %d %d\n", exe, fi.Size(), fi.ModTime().UnixNano())
	}
	n := 0
	for _, dir := range dirs {
		fmt.Fprintf(h, "folder %q\n", dir)
		err := filepath.WalkDir(dir, func(path string, e fs.DirEntry, err error) error {
			if err != nil {
				return err
			}
			if n++; n > maxFingerprintFiles {
				return errors.New("too many files")
			}
			fi, err := e.Info()
			if err != nil {
				return err
			}
			fmt.Fprintf(h, "%q %v %d %d\n", path, fi.Mode(), fi.Size(), fi.ModTime().UnixNano())
			return nil
		})
		if errors.Is(err, fs.ErrNotExist) {
			fmt.Fprintln(h, "missing")
		} else if err != nil {
			ok = false
		}
	}
	if !ok {
		b := make([]byte, 16)
		rand.Read(b)
		h.Write(b)
	}
	return hex.EncodeToString(h.Sum(nil))
}

// checkKey identifies a device's configuration check; tkey is
// templatesKey of the store's device types.
func (l *Lab) checkKey(d store.Device, tkey string) string {
	h := sha256.New()
	for _, s := range []string{l.fingerprint, tkey, d.Name, d.DeviceType, d.Dictionary} {
		fmt.Fprintf(h, "%d:%s", len(s), s)
	}
	return hex.EncodeToString(h.Sum(nil))
}

// loadChecks reads the store's remembered checks, once.
func (l *Lab) loadChecks(ctx context.Context) error {
	l.mu.Lock()
	loaded := l.storedLoaded
	l.mu.Unlock()
	if loaded {
		return nil
	}
	cs, err := l.st.DeviceChecks(ctx)
	if err != nil {
		return err
	}
	l.mu.Lock()
	l.stored, l.storedLoaded = cs, true
	l.mu.Unlock()
	return nil
}

// invalidDevices checks devices' configurations and returns those that
// are not valid, with why: from memory, else from the store's remembered
// check of the device, else by rendering and parsing it, once per key and
// on every core. New answers are remembered in the store (a failure to
// write them is only logged: they are checked again after a restart).
func (l *Lab) invalidDevices(ctx context.Context, devices []store.Device, tkey string, loader *device.Renderer) (map[string]error, error) {
	if len(devices) == 0 {
		return nil, nil
	}
	if err := l.loadChecks(ctx); err != nil {
		return nil, err
	}
	keys := make([]string, len(devices))
	for i, d := range devices {
		keys[i] = l.checkKey(d, tkey)
	}
	answers := map[string]error{}
	var todo []store.Device // one device per key to check
	var todoKeys []string
	queued := map[string]bool{}
	l.mu.Lock()
	for i, d := range devices {
		k := keys[i]
		if _, ok := answers[k]; ok || queued[k] {
			continue
		}
		if v, ok := l.valid[k]; ok {
			answers[k] = v
		} else if c, ok := l.stored[d.Name]; ok && c.Key == k {
			var err error
			if c.Problem != "" {
				err = errors.New(c.Problem)
			}
			answers[k] = err
			l.remember(k, err)
		} else {
			queued[k] = true
			todo = append(todo, d)
			todoKeys = append(todoKeys, k)
		}
	}
	l.mu.Unlock()

	errs := make([]error, len(todo))
	var wg sync.WaitGroup
	sem := make(chan struct{}, runtime.GOMAXPROCS(0))
	for i, d := range todo {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			errs[i] = l.checkDevice(d, loader)
		}()
	}
	wg.Wait()

	bad := map[string]error{}
	var put []store.DeviceCheck
	l.mu.Lock()
	for i, k := range todoKeys {
		answers[k] = errs[i]
		l.remember(k, errs[i])
	}
	for i, d := range devices {
		err := answers[keys[i]]
		if err != nil {
			bad[d.Name] = err
		}
		if c, ok := l.stored[d.Name]; !ok || c.Key != keys[i] {
			c := store.DeviceCheck{Device: d.Name, Key: keys[i]}
			if err != nil {
				c.Problem = err.Error()
			}
			put = append(put, c)
		}
	}
	l.mu.Unlock()
	if len(put) > 0 {
		if err := l.st.PutDeviceChecks(ctx, put); err != nil {
			l.log.Warn("device configuration checks not remembered", "err", err)
		} else {
			l.mu.Lock()
			for _, c := range put {
				l.stored[c.Device] = c
			}
			l.mu.Unlock()
		}
	}
	return bad, nil
}

// checkDevice renders d's dictionary without a job context and parses it.
func (l *Lab) checkDevice(d store.Device, loader *device.Renderer) error {
	l.rendered.Add(1)
	out, err := renderDevice(d, nil, loader)
	if err == nil {
		_, err = device.ParseLimit([]byte(out), limits.Defaults().YAMLNodes)
	}
	return err
}

// remember records a check in memory; l.mu is held.
func (l *Lab) remember(key string, err error) {
	if len(l.valid) >= maxChecks {
		clear(l.valid)
	}
	l.valid[key] = err
}
