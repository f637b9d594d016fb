package main

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	paho "github.com/eclipse/paho.mqtt.golang"

	"github.com/wardwatch/wardwatch/sim"
)

// startMosquitto runs a private Mosquitto on a free loopback port and
// returns its URL. Without Mosquitto the test skips, except in CI where it
// fails: `make test` installs it.
func startMosquitto(t *testing.T) string {
	t.Helper()
	bin := os.Getenv("WARDWATCH_TEST_MOSQUITTO")
	if bin == "" {
		for _, p := range []string{"mosquitto", "/usr/sbin/mosquitto"} {
			if found, err := exec.LookPath(p); err == nil {
				bin = found
				break
			}
		}
	}
	if bin == "" {
		if os.Getenv("CI") == "true" {
			t.Fatal("Mosquitto is required in CI: run scripts/ensure-mosquitto.sh (make test does)")
		}
		t.Skip("Mosquitto not found; `make test` installs it (scripts/ensure-mosquitto.sh)")
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	_, port, _ := net.SplitHostPort(addr)
	dir := t.TempDir()
	conf := filepath.Join(dir, "mosquitto.conf")
	if err := os.WriteFile(conf, []byte("listener "+port+" 127.0.0.1\nallow_anonymous true\npersistence false\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, "-c", conf)
	cmd.Stdout, cmd.Stderr = io.Discard, io.Discard
	if err := cmd.Start(); err != nil {
		t.Fatalf("start mosquitto: %v", err)
	}
	t.Cleanup(func() {
		cmd.Process.Kill()
		cmd.Wait()
	})
	for deadline := time.Now().Add(10 * time.Second); ; {
		if c, err := net.Dial("tcp", addr); err == nil {
			c.Close()
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("mosquitto did not start listening")
		}
		time.Sleep(50 * time.Millisecond)
	}
	return "tcp://" + addr
}

// TestMQTTSightingsBecomePositions publishes ESPresense and Theengs
// messages to a real broker and follows them through the whole pipeline:
// subscriber, router, location engine, live hub.
func TestMQTTSightingsBecomePositions(t *testing.T) {
	broker := startMosquitto(t)
	hr := startHospital(t, map[string]string{
		"WARDWATCH_MQTT_BROKER": broker,
		"WARDWATCH_MQTT_TOPICS": "espresense/devices/+/+,home/+/BTtoMQTT/+,room_presence/+=mqtt_room",
	})
	ctx := context.Background()
	store, a := hr.store, hr.app
	tags, err := store.Tags(ctx)
	if err != nil {
		t.Fatal(err)
	}
	// Two assets on the first floor (level 4): one heard through ESPresense
	// nodes, one through OpenMQTTGateway/Theengs gateways.
	espTag, theengsTag, roomTag := tags[0], tags[1], tags[2]
	for _, tag := range []string{espTag.ID, theengsTag.ID, roomTag.ID} {
		if !strings.HasPrefix(tag, "ibeacon:"+sim.HospitalUUID+":4:") {
			t.Fatalf("unexpected demo tag %s", tag)
		}
	}
	floors, _ := store.Floors(ctx)

	pub := paho.NewClient(paho.NewClientOptions().AddBroker(broker).SetClientID("test-publisher"))
	if tok := pub.Connect(); !tok.WaitTimeout(10*time.Second) || tok.Error() != nil {
		t.Fatalf("publisher connect: %v", tok.Error())
	}
	defer pub.Disconnect(100)
	for deadline := time.Now().Add(15 * time.Second); !a.mqtt.Connected(); {
		if time.Now().After(deadline) {
			t.Fatal("WardWatch did not subscribe to the broker")
		}
		time.Sleep(50 * time.Millisecond)
	}

	uuidMajorMinor := func(tag string) (uuid, major, minor string) {
		parts := strings.Split(tag, ":")
		return parts[1], parts[2], parts[3]
	}
	publish := func(topic, payload string) {
		t.Helper()
		if tok := pub.Publish(topic, 1, false, payload); !tok.WaitTimeout(5*time.Second) || tok.Error() != nil {
			t.Fatalf("publish %s: %v", topic, tok.Error())
		}
	}
	uuid, major, minor := uuidMajorMinor(espTag.ID)
	espID := fmt.Sprintf("iBeacon:%s-%s-%s", uuid, major, minor)
	tUUID, tMajor, tMinor := uuidMajorMinor(theengsTag.ID)
	rUUID, rMajor, rMinor := uuidMajorMinor(roomTag.ID)
	roomID := fmt.Sprintf("iBeacon:%s-%s-%s", rUUID, rMajor, rMinor)
	for round := range 5 {
		for i, gw := range []string{"f1-gw-01", "f1-gw-02", "f1-gw-03"} {
			publish("espresense/devices/"+espID+"/"+gw, fmt.Sprintf(
				`{"mac":"c0ffee000001","id":%q,"rssi@1m":-59,"rssi":%d,"rxAdj":0,"rssiVar":4.1,"distance":2.8,"var":0.6,"int":312}`,
				espID, -62-4*i-round%2))
			publish("home/"+gw+"/BTtoMQTT/C0FFEE000002", fmt.Sprintf(
				`{"id":"C0:FF:EE:00:00:02","mac_type":0,"rssi":%d,"brand":"GENERIC","model":"iBeacon","model_id":"IBEACON","mfid":"4c00","uuid":%q,"major":%s,"minor":%s,"txpower":-59}`,
				-75+4*i, strings.ReplaceAll(tUUID, "-", ""), tMajor, tMinor))
			// Home Assistant mqtt_room: distance only, room from the topic.
			publish("room_presence/"+gw, fmt.Sprintf(`{"id":%q,"name":"Pump","distance":%.1f}`, roomID, 1.5+2*float64(i)))
		}
		time.Sleep(100 * time.Millisecond)
	}

	for deadline := time.Now().Add(20 * time.Second); ; {
		found := map[int64]bool{}
		for _, p := range a.hub.Snapshot(floors[0].ID) {
			found[p.AssetID] = true
		}
		if found[espTag.AssetID] && found[theengsTag.AssetID] && found[roomTag.AssetID] {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("positions on floor %d: %+v; want assets %d (ESPresense), %d (Theengs) and %d (mqtt_room)",
				floors[0].ID, a.hub.Snapshot(floors[0].ID), espTag.AssetID, theengsTag.AssetID, roomTag.AssetID)
		}
		time.Sleep(100 * time.Millisecond)
	}

	rec := httptest.NewRecorder()
	a.handler.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/metrics", nil))
	metrics := rec.Body.String()
	for _, want := range []string{
		`wardwatch_collector_messages_total{format="espresense",result="ok"} 15`,
		`wardwatch_collector_messages_total{format="theengs",result="ok"} 15`,
		`wardwatch_collector_messages_total{format="mqtt_room",result="ok"} 15`,
		`wardwatch_mqtt_connected 1`,
	} {
		if !strings.Contains(metrics, want) {
			t.Errorf("/metrics lacks %s", want)
		}
	}
}
