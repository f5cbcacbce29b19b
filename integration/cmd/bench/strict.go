package main

import (
	"os"

	"github.com/secrets-broker/secrets-broker/integration/env"
)

// enterPod moves this process into a cgroup laid out like a container of
// the broker contenders' pod, so that the strict-attestation broker (the
// production default: peer pid → /proc/<pid>/cgroup → pod UID) serves it.
// Node-mode brokers, direct Vault and Vault Proxy do not look at it. It
// needs root and a writable cgroup hierarchy; without them the strict
// contender is left out and the report says so. leave moves the process
// back and removes the cgroup.
func (r *rig) enterPod() (leave func(), ok bool) {
	cg, err := env.CgroupForPod(r.brokerPod.UID)
	if err != nil {
		logf("strict contender left out: %v", err)
		return func() {}, false
	}
	if err := cg.Add(os.Getpid()); err != nil {
		logf("strict contender left out: %v", err)
		_ = cg.Remove()
		return func() {}, false
	}
	return func() {
		if err := cg.Remove(); err != nil {
			logf("warning: %v", err)
		}
	}, true
}
