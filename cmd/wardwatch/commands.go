package main

import (
	"context"
	"crypto/tls"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/wardwatch/wardwatch"
	"github.com/wardwatch/wardwatch/auth"
	"github.com/wardwatch/wardwatch/collectors/snmp"
	"github.com/wardwatch/wardwatch/sim"
	"github.com/wardwatch/wardwatch/sim/modbussim"
	"github.com/wardwatch/wardwatch/sim/snmpsim"
	"github.com/wardwatch/wardwatch/sql"
)

func newLogger(cfg LogConfig, w io.Writer) *slog.Logger {
	var level slog.Level
	_ = level.UnmarshalText([]byte(cfg.Level)) // validated by LoadConfig
	opts := &slog.HandlerOptions{Level: level}
	if cfg.Format == "json" {
		return slog.New(slog.NewJSONHandler(w, opts))
	}
	return slog.New(slog.NewTextHandler(w, opts))
}

// openStore opens the configuration store and, when configured to, brings
// its schema up to date.
func openStore(ctx context.Context, cfg Config, logger *slog.Logger) (*sql.Store, error) {
	key, err := auth.LoadOrCreateSecretKey(cfg.Database.SecretKeyFile)
	if err != nil {
		return nil, err
	}
	box, err := auth.NewSecretBox(key)
	if err != nil {
		return nil, err
	}
	store, err := sql.Open(ctx, cfg.Database.Driver, cfg.Database.DSN)
	if err != nil {
		return nil, fmt.Errorf("open %s database: %w", cfg.Database.Driver, err)
	}
	store.SetSecretBox(box)
	if cfg.Database.MigrateOnStart {
		if err := store.Migrate(ctx); err != nil {
			store.Close()
			return nil, fmt.Errorf("migrate %s database: %w", cfg.Database.Driver, err)
		}
		v, _ := store.Version(ctx)
		logger.Info("database ready", "driver", cfg.Database.Driver, "schema_version", v)
	}
	return store, nil
}

// openServing is the start-up serve and demo share: flags and
// configuration, the logger, and the migrated store.
func openServing(ctx context.Context, name string, args []string, getenv func(string) string, stderr io.Writer) (Config, *slog.Logger, *sql.Store, error) {
	cfg, err := parseFlags(name, args, getenv, stderr, nil)
	if err != nil {
		return cfg, nil, nil, err
	}
	logger := newLogger(cfg.Log, stderr)
	store, err := openStore(ctx, cfg, logger)
	return cfg, logger, store, err
}

// listenApp opens the HTTP listener and builds the app that will serve on it.
func listenApp(ctx context.Context, cfg Config, store *sql.Store, logger *slog.Logger) (*app, net.Listener, error) {
	var tlsConfig *tls.Config
	if cfg.HTTP.TLSCertFile != "" {
		cert, err := tls.LoadX509KeyPair(cfg.HTTP.TLSCertFile, cfg.HTTP.TLSKeyFile)
		if err != nil {
			return nil, nil, fmt.Errorf("load TLS certificate: %w", err)
		}
		tlsConfig = &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}
		cfg.HTTP.SecureCookies = true
	}
	ln, err := net.Listen("tcp", cfg.HTTP.Addr)
	if err != nil {
		return nil, nil, fmt.Errorf("listen on %s: %w", cfg.HTTP.Addr, err)
	}
	if tlsConfig != nil {
		ln = tls.NewListener(ln, tlsConfig)
	}
	a, err := newApp(ctx, cfg, store, logger)
	if err != nil {
		ln.Close()
		return nil, nil, err
	}
	return a, ln, nil
}

func runServe(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	cfg, logger, store, err := openServing(ctx, "serve", args, getenv, stderr)
	if err != nil {
		return err
	}
	defer store.Close()
	if cfg.Provision.File != "" {
		if err := applyAtStart(ctx, store, cfg.Provision.File, getenv, logger); err != nil {
			return err
		}
	}
	a, ln, err := listenApp(ctx, cfg, store, logger)
	if err != nil {
		return err
	}
	defer a.close()
	scheme := "http"
	if cfg.HTTP.TLSCertFile != "" {
		scheme = "https"
	}
	fmt.Fprintf(stdout, "WardWatch is running at %s://%s\n", scheme, ln.Addr())
	return a.serve(ctx, ln)
}

func runDemo(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	cfg, logger, store, err := openServing(ctx, "demo", args, getenv, stderr)
	if err != nil {
		return err
	}
	defer store.Close()

	if cfg.HTTP.TLSCertFile != "" {
		return errors.New("demo: the demo serves plain HTTP on loopback; unset http.tls_cert_file (use serve for TLS)")
	}
	hospital := sim.NewHospital()
	floors, err := store.Floors(ctx)
	if err != nil {
		return fmt.Errorf("demo: %w", err)
	}
	if len(floors) == 0 {
		if err := hospital.Seed(ctx, store); err != nil {
			return fmt.Errorf("demo: seed the simulated hospital: %w", err)
		}
		logger.Info("seeded the demo hospital")
	} else if err := hospital.ResetTokens(ctx, store); err != nil {
		// The simulated gateways get new push tokens every run.
		return fmt.Errorf("demo: %w", err)
	}
	credFile := filepath.Join(filepath.Dir(cfg.Telemetry.Path), "demo-admin.txt")
	password, err := ensureDemoAdmin(ctx, store, credFile)
	if err != nil {
		return fmt.Errorf("demo: %w", err)
	}

	// The demo's pump server: a simulated SNMP agent on loopback, polled
	// like a real one (v3 authPriv).
	agent, err := snmpsim.Start(ctx, "127.0.0.1:0", 12, cfg.Demo.Seed, nil)
	if err != nil {
		return fmt.Errorf("demo: start the simulated pump server: %w", err)
	}
	defer agent.Close()
	if err := ensureDemoPumpServer(ctx, store, agent.Addr()); err != nil {
		return fmt.Errorf("demo: %w", err)
	}

	// The demo's fridges, freezers and rooms: a simulated Modbus TCP
	// server on loopback.
	sensors, err := modbussim.Start(ctx, "127.0.0.1:0", modbussim.DemoDevices(), cfg.Demo.Seed, nil)
	if err != nil {
		return fmt.Errorf("demo: start the simulated Modbus server: %w", err)
	}
	defer sensors.Close()
	if err := ensureDemoSensors(ctx, store, sensors.Addr()); err != nil {
		return fmt.Errorf("demo: %w", err)
	}

	a, ln, err := listenApp(ctx, cfg, store, logger)
	if err != nil {
		return err
	}
	defer a.close()

	url := "http://" + ln.Addr().String()
	fmt.Fprintf(stdout, "WardWatch demo is running at %s\n", url)
	fmt.Fprintf(stdout, "Sign in as %s with password: %s\n", demoAdmin, password)
	fmt.Fprintf(stdout, "(The password is kept in %s; delete that file to get a new one.)\n", credFile)

	pusher := &sim.Pusher{
		BaseURL:  url,
		Tokens:   hospital.Tokens(),
		Interval: cfg.Demo.PushInterval,
		Logger:   logger.With("component", "sim"),
	}
	simulation := sim.NewSimulation(hospital, cfg.Demo.Seed, a.now())
	return a.serve(ctx, ln, func(ctx context.Context) error { return pusher.Run(ctx, simulation) })
}

// demoPumpServer is the name of the demo's SNMP target.
const demoPumpServer = "Demo pump server"

// ensureDemoPumpServer points the demo's SNMP target at the simulated
// agent (its port changes every run), creating the target the first time.
func ensureDemoPumpServer(ctx context.Context, store *sql.Store, addr string) error {
	ts, err := store.SNMPTargets(ctx)
	if err != nil {
		return err
	}
	t := wardwatch.SNMPTarget{Name: demoPumpServer, Address: addr, Version: "v3", User: snmpsim.User,
		AuthProtocol: snmpsim.AuthProtocol, AuthPassword: snmpsim.AuthPassword, PrivProtocol: snmpsim.PrivProtocol,
		PrivPassword: snmpsim.PrivPassword, Profile: snmp.ExamplePumpServerProfile, Interval: 15 * time.Second,
		Timeout: 2 * time.Second, Retries: 1, Enabled: true}
	for _, old := range ts {
		if old.Name == demoPumpServer {
			t.ID = old.ID
			return store.UpdateSNMPTarget(ctx, t)
		}
	}
	return store.CreateSNMPTarget(ctx, &t)
}

// demoUnitProfile is the monitored-unit profile of a simulated device.
func demoUnitProfile(d modbussim.SimDevice) wardwatch.UnitProfile {
	name := strings.ToLower(d.Name)
	switch {
	case d.Kind == modbussim.KindVaccineFridge:
		return wardwatch.ProfileVaccineFridge
	case strings.Contains(name, "plasma"):
		return wardwatch.ProfilePlasmaFreezer
	case d.Kind == modbussim.KindFreezer:
		return wardwatch.ProfilePharmacyFreezer
	case strings.Contains(name, "isolation"):
		return wardwatch.ProfileIsolationRoom
	case strings.Contains(name, "protective"):
		return wardwatch.ProfileProtectiveRoom
	case strings.Contains(name, "theatre"):
		return wardwatch.ProfileOperatingRoom
	}
	return wardwatch.ProfileCRTRoom
}

// ensureDemoSensors creates the demo's monitored units and their Modbus
// devices the first time, and points the devices at the simulated server
// (its port changes every run).
func ensureDemoSensors(ctx context.Context, store *sql.Store, addr string) error {
	units, err := store.Units(ctx)
	if err != nil {
		return err
	}
	devices, err := store.ModbusDevices(ctx)
	if err != nil {
		return err
	}
	zones, err := store.Zones(ctx, 0)
	if err != nil {
		return err
	}
	for _, sd := range modbussim.DemoDevices() {
		unit := wardwatch.MonitoredUnit{Name: sd.Name, Profile: demoUnitProfile(sd)}
		for _, z := range zones {
			if strings.HasPrefix(sd.Name, z.Name+" ") || strings.HasPrefix(sd.Name, z.Name) && len(z.Name) > 4 {
				unit.ZoneID = z.ID
			}
		}
		for _, u := range units {
			if u.Name == unit.Name {
				unit = u
			}
		}
		if unit.ID == 0 {
			if err := store.CreateUnit(ctx, &unit); err != nil {
				return err
			}
		}
		d := wardwatch.ModbusDevice{Name: fmt.Sprintf("demo-%02d", sd.UnitID), UnitID: unit.ID, Transport: "tcp", Address: addr,
			SlaveID: int(sd.UnitID), Profile: sd.Kind.Profile(), Interval: 10 * time.Second, Timeout: 2 * time.Second, Enabled: true}
		for _, old := range devices {
			if old.Name == d.Name {
				d.ID = old.ID
			}
		}
		if d.ID != 0 {
			err = store.UpdateModbusDevice(ctx, d)
		} else {
			err = store.CreateModbusDevice(ctx, &d)
		}
		if err != nil {
			return err
		}
	}
	return nil
}

// demoAdmin is the demo's administrator account.
const demoAdmin = "admin"

// ensureDemoAdmin makes sure the demo admin exists with the password kept in
// credFile, generating a new password (and the file) when either is missing.
func ensureDemoAdmin(ctx context.Context, store *sql.Store, credFile string) (string, error) {
	user, err := store.UserByUsername(ctx, demoAdmin)
	exists := err == nil
	if err != nil && wardwatch.ErrorCode(err) != wardwatch.ENOTFOUND {
		return "", err
	}
	if data, err := os.ReadFile(credFile); err == nil && exists {
		password := strings.TrimSpace(string(data))
		if auth.CheckPassword(user.PasswordHash, password) {
			return password, nil
		}
	}
	password, err := auth.GeneratePassword()
	if err != nil {
		return "", err
	}
	hash, err := auth.HashPassword(password)
	if err != nil {
		return "", err
	}
	if exists {
		err = store.SetPassword(ctx, user.ID, hash)
	} else {
		err = store.CreateUser(ctx, &wardwatch.User{Username: demoAdmin, Role: wardwatch.RoleAdmin, PasswordHash: hash})
	}
	if err != nil {
		return "", fmt.Errorf("demo admin: %w", err)
	}
	if err := os.MkdirAll(filepath.Dir(credFile), 0o700); err != nil {
		return "", err
	}
	if err := os.WriteFile(credFile, []byte(password+"\n"), 0o600); err != nil {
		return "", fmt.Errorf("keep demo admin password: %w", err)
	}
	return password, nil
}

func runMigrate(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	cfg, err := parseFlags("migrate", args, getenv, stderr, nil)
	if err != nil {
		return err
	}
	store, err := sql.Open(ctx, cfg.Database.Driver, cfg.Database.DSN)
	if err != nil {
		return fmt.Errorf("open %s database: %w", cfg.Database.Driver, err)
	}
	defer store.Close()
	if err := store.Migrate(ctx); err != nil {
		return fmt.Errorf("migrate: %w", err)
	}
	v, err := store.Version(ctx)
	if err != nil {
		return fmt.Errorf("migrate: %w", err)
	}
	fmt.Fprintf(stdout, "database schema is at version %d\n", v)
	return nil
}

func runUserAdd(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	var username, role string
	cfg, err := parseFlags("user add", args, getenv, stderr, func(fs *flag.FlagSet) {
		fs.StringVar(&username, "username", "", "the new user's `name` (required)")
		fs.StringVar(&role, "role", string(wardwatch.RoleNurse), "admin, facilities, nurse or viewer")
	})
	if err != nil {
		return err
	}
	if username == "" {
		fmt.Fprintln(stderr, "wardwatch user add: -username is required")
		return errUsage
	}
	if !wardwatch.Role(role).Valid() {
		return fmt.Errorf("user add: unknown role %q (want admin, facilities, nurse or viewer)", role)
	}
	logger := newLogger(cfg.Log, stderr)
	store, err := openStore(ctx, cfg, logger)
	if err != nil {
		return err
	}
	defer store.Close()
	password, err := auth.GeneratePassword()
	if err != nil {
		return err
	}
	hash, err := auth.HashPassword(password)
	if err != nil {
		return err
	}
	u := wardwatch.User{Username: username, Role: wardwatch.Role(role), PasswordHash: hash}
	if err := store.CreateUser(ctx, &u); err != nil {
		if wardwatch.ErrorCode(err) == wardwatch.ECONFLICT {
			return errors.New("user add: a user with that name already exists")
		}
		return fmt.Errorf("user add: %w", err)
	}
	fmt.Fprintf(stdout, "Created %s user %q with password: %s\n", u.Role, u.Username, password)
	return nil
}
