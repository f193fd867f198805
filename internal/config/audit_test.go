package config

import (
	"strings"
	"testing"
	"time"
)

func TestAuditConfig(t *testing.T) {
	c := Default()
	if a := c.Audit; !a.Enabled || a.Retention != 90*24*time.Hour || a.MaxRecords != 0 || a.QueueSize != 8192 {
		t.Errorf("defaults %+v", a)
	}
	if _, err := Merge(c, []byte("audit:\n  enabled: false\n  retention: 720h\n  max_records: 1000000\n  queue_size: 1024\n")); err != nil {
		t.Fatal(err)
	}
	if a := c.Audit; a.Enabled || a.Retention != 720*time.Hour || a.MaxRecords != 1000000 || a.QueueSize != 1024 {
		t.Errorf("merged %+v", a)
	}
	if _, err := Merge(Default(), []byte("audit:\n  retension: 1h\n")); err == nil || !strings.Contains(err.Error(), `"audit.retension"`) ||
		!strings.Contains(err.Error(), `"audit.retention"`) {
		t.Errorf("typo: %v", err)
	}
	if _, err := Merge(Default(), []byte("audit:\n  retention: 90d\n")); err == nil || !strings.Contains(err.Error(), "audit.retention") {
		t.Errorf("days: %v", err)
	}
	for _, bad := range []struct {
		set  func(*AuditConfig)
		want string
	}{
		{func(a *AuditConfig) { a.Retention = -time.Hour }, "audit.retention"},
		{func(a *AuditConfig) { a.Retention = time.Minute }, "audit.retention: must be at least 1h"},
		{func(a *AuditConfig) { a.MaxRecords = -1 }, "audit.max_records"},
		{func(a *AuditConfig) { a.QueueSize = 8 }, "audit.queue_size"},
		{func(a *AuditConfig) { a.QueueSize = 1 << 21 }, "audit.queue_size"},
	} {
		c := Default()
		c.Keys = map[string]string{"k": strongSecret}
		bad.set(&c.Audit)
		if err := c.Validate(); err == nil || !strings.Contains(err.Error(), bad.want) {
			t.Errorf("%+v: %v", c.Audit, err)
		}
	}
	c = Default()
	c.Keys = map[string]string{"k": strongSecret}
	c.Audit.Retention, c.Audit.MaxRecords = 0, 0 // keep everything
	if err := c.Validate(); err != nil {
		t.Error(err)
	}
}
