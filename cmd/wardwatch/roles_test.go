package main

import (
	"context"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"os"
	"regexp"
	"strings"
	"testing"

	"github.com/wardwatch/wardwatch"
	"github.com/wardwatch/wardwatch/auth"
)

// who may use a route.
const (
	public    = "public"    // no session needed
	signedIn  = "signed-in" // every role
	configure = "configure" // admin
	siteState = "site-state"
	setStatus = "set-status"
	alertAct  = "alert-act"
	signOff   = "sign-off"
	clearQuar = "clear-quarantine" // alerts.CanClearQuarantine
)

var allowedRoles = map[string][]wardwatch.Role{
	signedIn:  {wardwatch.RoleAdmin, wardwatch.RoleFacilities, wardwatch.RolePharmacy, wardwatch.RoleBiomed, wardwatch.RoleNurse, wardwatch.RoleViewer},
	configure: {wardwatch.RoleAdmin},
	siteState: {wardwatch.RoleAdmin, wardwatch.RoleFacilities, wardwatch.RoleBiomed},
	setStatus: {wardwatch.RoleAdmin, wardwatch.RoleNurse, wardwatch.RoleBiomed},
	alertAct:  {wardwatch.RoleAdmin, wardwatch.RoleFacilities, wardwatch.RolePharmacy, wardwatch.RoleBiomed, wardwatch.RoleNurse},
	signOff:   {wardwatch.RoleAdmin, wardwatch.RoleFacilities, wardwatch.RolePharmacy, wardwatch.RoleNurse},
	clearQuar: {wardwatch.RoleAdmin, wardwatch.RolePharmacy},
}

// routeRules gives every route pattern of web/routes.go who may use it
// and a concrete path to try. TestEveryRouteChecksRoles fails when a
// pattern is missing here.
var routeRules = map[string]struct {
	access string
	path   string
}{
	"GET /login":                                        {public, "/login"},
	"POST /login":                                       {public, "/login"},
	"POST /logout":                                      {public, "/logout"},
	"GET /{$}":                                          {public, "/"},
	"GET /floors":                                       {signedIn, "/floors"},
	"GET /floors/{id}":                                  {signedIn, "/floors/1"},
	"GET /floors/{id}/plan":                             {signedIn, "/floors/1/plan"},
	"GET /floors/{id}/live":                             {signedIn, "/floors/1/live"},
	"GET /environment":                                  {signedIn, "/environment"},
	"GET /pumps":                                        {signedIn, "/pumps"},
	"GET /search":                                       {signedIn, "/search?q=pump"},
	"GET /assets/{id}":                                  {signedIn, "/assets/1"},
	"POST /assets/{id}/status":                          {setStatus, "/assets/1/status"},
	"GET /admin":                                        {configure, "/admin"},
	"GET /admin/system":                                 {siteState, "/admin/system"},
	"GET /admin/gateways":                               {siteState, "/admin/gateways"},
	"GET /admin/tags/discovered":                        {configure, "/admin/tags/discovered"},
	"POST /admin/tags/discovered/assign":                {configure, "/admin/tags/discovered/assign"},
	"POST /admin/tags/discovered/dismiss":               {configure, "/admin/tags/discovered/dismiss"},
	"GET /admin/assets":                                 {configure, "/admin/assets"},
	"POST /admin/assets":                                {configure, "/admin/assets"},
	"POST /admin/assets/import":                         {configure, "/admin/assets/import"},
	"POST /admin/assets/{id}":                           {configure, "/admin/assets/999999"},
	"POST /admin/assets/{id}/delete":                    {configure, "/admin/assets/999999/delete"},
	"POST /admin/assets/{id}/tags":                      {configure, "/admin/assets/999999/tags"},
	"POST /admin/tags/remove":                           {configure, "/admin/tags/remove"},
	"GET /admin/users":                                  {configure, "/admin/users"},
	"POST /admin/users":                                 {configure, "/admin/users"},
	"POST /admin/users/{id}":                            {configure, "/admin/users/999999"},
	"GET /admin/audit":                                  {configure, "/admin/audit"},
	"GET /admin/units":                                  {configure, "/admin/units"},
	"POST /admin/units":                                 {configure, "/admin/units"},
	"POST /admin/units/{id}/delete":                     {configure, "/admin/units/999999/delete"},
	"GET /admin/modbus":                                 {siteState, "/admin/modbus"},
	"GET /admin/modbus/new":                             {configure, "/admin/modbus/new"},
	"POST /admin/modbus":                                {configure, "/admin/modbus"},
	"GET /admin/modbus/{id}":                            {configure, "/admin/modbus/999999"},
	"POST /admin/modbus/{id}":                           {configure, "/admin/modbus/999999"},
	"POST /admin/modbus/{id}/delete":                    {configure, "/admin/modbus/999999/delete"},
	"GET /admin/snmp":                                   {siteState, "/admin/snmp"},
	"GET /admin/snmp/new":                               {configure, "/admin/snmp/new"},
	"POST /admin/snmp":                                  {configure, "/admin/snmp"},
	"GET /admin/snmp/{id}":                              {configure, "/admin/snmp/999999"},
	"POST /admin/snmp/{id}":                             {configure, "/admin/snmp/999999"},
	"POST /admin/snmp/{id}/delete":                      {configure, "/admin/snmp/999999/delete"},
	"GET /admin/floors":                                 {configure, "/admin/floors"},
	"POST /admin/floors":                                {configure, "/admin/floors"},
	"GET /admin/floors/{id}":                            {configure, "/admin/floors/1"},
	"POST /admin/floors/{id}":                           {configure, "/admin/floors/999999"},
	"POST /admin/floors/{id}/plan":                      {configure, "/admin/floors/999999/plan"},
	"POST /admin/floors/{id}/scale":                     {configure, "/admin/floors/999999/scale"},
	"POST /admin/floors/{id}/zones":                     {configure, "/admin/floors/999999/zones"},
	"POST /admin/floors/{id}/zones/{zone}":              {configure, "/admin/floors/1/zones/999999"},
	"POST /admin/floors/{id}/zones/{zone}/delete":       {configure, "/admin/floors/1/zones/999999/delete"},
	"POST /admin/floors/{id}/gateways":                  {configure, "/admin/floors/999999/gateways"},
	"POST /admin/floors/{id}/gateways/{gateway}":        {configure, "/admin/floors/1/gateways/999999"},
	"POST /admin/floors/{id}/gateways/{gateway}/action": {configure, "/admin/floors/1/gateways/999999/action"},
	"GET /kiosk/{token}":                                {public, "/kiosk/x"},
	"GET /admin/kiosks":                                 {configure, "/admin/kiosks"},
	"POST /admin/kiosks":                                {configure, "/admin/kiosks"},
	"POST /admin/kiosks/{id}/delete":                    {configure, "/admin/kiosks/999999/delete"},
	"GET /admin/readers":                                {configure, "/admin/readers"},
	"POST /admin/readers":                               {configure, "/admin/readers"},
	"POST /admin/readers/{id}":                          {configure, "/admin/readers/999999"},
	"POST /admin/polls":                                 {configure, "/admin/polls"},
	"POST /admin/polls/{id}/delete":                     {configure, "/admin/polls/999999/delete"},
	"GET /admin/profiles":                               {configure, "/admin/profiles"},
	"POST /admin/profiles":                              {configure, "/admin/profiles"},
	"POST /admin/profiles/delete":                       {configure, "/admin/profiles/delete"},
	"GET /alerts":                                       {signedIn, "/alerts"},
	"GET /alerts/rows":                                  {signedIn, "/alerts/rows"},
	"GET /alerts/live":                                  {signedIn, "/alerts/live"},
	"GET /alerts/history":                               {signedIn, "/alerts/history"},
	"GET /alerts/stock":                                 {signedIn, "/alerts/stock"},
	"GET /alerts/{id}":                                  {signedIn, "/alerts/999999"},
	"POST /alerts/{id}/acknowledge":                     {alertAct, "/alerts/999999/acknowledge"},
	"POST /alerts/{id}/shelve":                          {alertAct, "/alerts/999999/shelve"},
	"POST /alerts/{id}/unshelve":                        {alertAct, "/alerts/999999/unshelve"},
	"POST /alerts/{id}/resolve":                         {alertAct, "/alerts/999999/resolve"},
	"GET /records":                                      {signedIn, "/records"},
	"GET /records/excursions.csv":                       {signedIn, "/records/excursions.csv"},
	"GET /records/audit.csv":                            {signedIn, "/records/audit.csv"},
	"GET /records/excursions/{id}":                      {signedIn, "/records/excursions/999999"},
	"POST /records/excursions/{id}":                     {signOff, "/records/excursions/999999"},
	"POST /records/excursions/{id}/clear":               {clearQuar, "/records/excursions/999999/clear"},
	"GET /records/chart.svg":                            {signedIn, "/records/chart.svg?sensor=x&metric=temperature"},
	"GET /records/units/{id}/daily":                     {signedIn, "/records/units/1/daily"},
	"GET /records/units/{id}/daily.csv":                 {signedIn, "/records/units/1/daily.csv"},
	"POST /records/units/{id}/daily":                    {signOff, "/records/units/999999/daily"},
	"GET /records/units/{id}/mkt":                       {signedIn, "/records/units/1/mkt"},
	"GET /admin/alerts":                                 {siteState, "/admin/alerts"},
	"GET /admin/alerts/units/{id}":                      {siteState, "/admin/alerts/units/1"},
	"POST /admin/alerts/units/{id}":                     {configure, "/admin/alerts/units/999999"},
	"POST /admin/alerts/units/{id}/reset":               {configure, "/admin/alerts/units/999999/reset"},
	"POST /admin/alerts/units/{id}/windows":             {siteState, "/admin/alerts/units/999999/windows"},
	"POST /admin/alerts/windows/{wid}/delete":           {siteState, "/admin/alerts/windows/999999/delete"},
	"POST /admin/alerts/units/{id}/schedules":           {siteState, "/admin/alerts/units/999999/schedules"},
	"POST /admin/alerts/schedules/{sid}/delete":         {siteState, "/admin/alerts/schedules/999999/delete"},
	"GET /admin/alerts/escalation":                      {configure, "/admin/alerts/escalation"},
	"POST /admin/alerts/escalation":                     {configure, "/admin/alerts/escalation"},
	"POST /admin/alerts/contacts":                       {configure, "/admin/alerts/contacts"},
	"POST /admin/alerts/contacts/{id}":                  {configure, "/admin/alerts/contacts/999999"},
	"POST /admin/alerts/contacts/{id}/delete":           {configure, "/admin/alerts/contacts/999999/delete"},
	"GET /admin/alerts/par":                             {configure, "/admin/alerts/par"},
	"POST /admin/alerts/par":                            {configure, "/admin/alerts/par"},
	"POST /admin/alerts/par/{pid}/delete":               {configure, "/admin/alerts/par/x/delete"},
	"GET /admin/api-tokens":                             {configure, "/admin/api-tokens"},
	"POST /admin/api-tokens":                            {configure, "/admin/api-tokens"},
	"POST /admin/api-tokens/{id}/revoke":                {configure, "/admin/api-tokens/999999/revoke"},
	"GET /fhir/r4/":                                     {signedIn, "/fhir/r4/Device?_count=5"},
	"GET /api/v1/openapi.json":                          {public, "/api/v1/openapi.json"},
	"apiPrefix":                                         {public, "/api/v1/no/such/route"},
	"GET /api/v1/floors":                                {signedIn, "/api/v1/floors"},
	"GET /api/v1/floors/{id}":                           {signedIn, "/api/v1/floors/1"},
	"POST /api/v1/floors":                               {configure, "/api/v1/floors"},
	"PUT /api/v1/floors/{id}":                           {configure, "/api/v1/floors/999999"},
	"GET /api/v1/zones":                                 {signedIn, "/api/v1/zones?floor=1"},
	"POST /api/v1/zones":                                {configure, "/api/v1/zones"},
	"PUT /api/v1/zones/{id}":                            {configure, "/api/v1/zones/999999"},
	"DELETE /api/v1/zones/{id}":                         {configure, "/api/v1/zones/999999"},
	"GET /api/v1/gateways":                              {siteState, "/api/v1/gateways"},
	"POST /api/v1/gateways":                             {configure, "/api/v1/gateways"},
	"PUT /api/v1/gateways/{id}":                         {configure, "/api/v1/gateways/999999"},
	"DELETE /api/v1/gateways/{id}":                      {configure, "/api/v1/gateways/999999"},
	"GET /api/v1/assets":                                {signedIn, "/api/v1/assets?kind=infusion_pump"},
	"GET /api/v1/assets/{id}":                           {signedIn, "/api/v1/assets/1"},
	"POST /api/v1/assets":                               {configure, "/api/v1/assets"},
	"PUT /api/v1/assets/{id}":                           {configure, "/api/v1/assets/999999"},
	"DELETE /api/v1/assets/{id}":                        {configure, "/api/v1/assets/999999"},
	"GET /api/v1/assets/{id}/trail":                     {signedIn, "/api/v1/assets/1/trail"},
	"GET /api/v1/tags":                                  {configure, "/api/v1/tags"},
	"POST /api/v1/tags":                                 {configure, "/api/v1/tags"},
	"DELETE /api/v1/tags/{tag}":                         {configure, "/api/v1/tags/no-such-tag"},
	"GET /api/v1/users":                                 {configure, "/api/v1/users"},
	"POST /api/v1/users":                                {configure, "/api/v1/users"},
	"PUT /api/v1/users/{id}":                            {configure, "/api/v1/users/999999"},
	"GET /api/v1/sensors":                               {signedIn, "/api/v1/sensors"},
	"GET /api/v1/sensors/{id}/series":                   {signedIn, "/api/v1/sensors/fridge%2Ftemp/series?metric=temperature"},
	"GET /api/v1/units":                                 {signedIn, "/api/v1/units"},
	"GET /api/v1/units/{id}":                            {signedIn, "/api/v1/units/999999"},
	"POST /api/v1/units":                                {configure, "/api/v1/units"},
	"PUT /api/v1/units/{id}":                            {configure, "/api/v1/units/999999"},
	"DELETE /api/v1/units/{id}":                         {configure, "/api/v1/units/999999"},
	"GET /api/v1/units/{id}/rules":                      {siteState, "/api/v1/units/999999/rules"},
	"PUT /api/v1/units/{id}/rules":                      {configure, "/api/v1/units/999999/rules"},
	"DELETE /api/v1/units/{id}/rules":                   {configure, "/api/v1/units/999999/rules"},
	"GET /api/v1/modbus-devices":                        {siteState, "/api/v1/modbus-devices"},
	"GET /api/v1/modbus-devices/{id}":                   {siteState, "/api/v1/modbus-devices/999999"},
	"POST /api/v1/modbus-devices":                       {configure, "/api/v1/modbus-devices"},
	"PUT /api/v1/modbus-devices/{id}":                   {configure, "/api/v1/modbus-devices/999999"},
	"DELETE /api/v1/modbus-devices/{id}":                {configure, "/api/v1/modbus-devices/999999"},
	"GET /api/v1/snmp-targets":                          {siteState, "/api/v1/snmp-targets"},
	"GET /api/v1/snmp-targets/{id}":                     {siteState, "/api/v1/snmp-targets/999999"},
	"POST /api/v1/snmp-targets":                         {configure, "/api/v1/snmp-targets"},
	"PUT /api/v1/snmp-targets/{id}":                     {configure, "/api/v1/snmp-targets/999999"},
	"DELETE /api/v1/snmp-targets/{id}":                  {configure, "/api/v1/snmp-targets/999999"},
	"GET /api/v1/pumps":                                 {signedIn, "/api/v1/pumps"},
	"GET /api/v1/alerts":                                {signedIn, "/api/v1/alerts"},
	"GET /api/v1/alerts/{id}":                           {signedIn, "/api/v1/alerts/999999"},
	"POST /api/v1/alerts/{id}/acknowledge":              {alertAct, "/api/v1/alerts/999999/acknowledge"},
	"POST /api/v1/alerts/{id}/shelve":                   {alertAct, "/api/v1/alerts/999999/shelve"},
	"POST /api/v1/alerts/{id}/unshelve":                 {alertAct, "/api/v1/alerts/999999/unshelve"},
	"POST /api/v1/alerts/{id}/resolve":                  {alertAct, "/api/v1/alerts/999999/resolve"},
	"GET /api/v1/excursions":                            {signedIn, "/api/v1/excursions"},
	"PUT /api/v1/excursions/{id}/troubleshooting":       {signOff, "/api/v1/excursions/999999/troubleshooting"},
	"POST /api/v1/excursions/{id}/clear":                {clearQuar, "/api/v1/excursions/999999/clear"},
	"GET /api/v1/par-levels":                            {configure, "/api/v1/par-levels"},
	"PUT /api/v1/par-levels/{id}":                       {configure, "/api/v1/par-levels/no-such-level"},
	"DELETE /api/v1/par-levels/{id}":                    {configure, "/api/v1/par-levels/no-such-level"},
	"GET /api/v1/contacts":                              {configure, "/api/v1/contacts"},
	"POST /api/v1/contacts":                             {configure, "/api/v1/contacts"},
	"PUT /api/v1/contacts/{id}":                         {configure, "/api/v1/contacts/999999"},
	"DELETE /api/v1/contacts/{id}":                      {configure, "/api/v1/contacts/999999"},
	"GET /api/v1/escalation-policies":                   {configure, "/api/v1/escalation-policies"},
	"PUT /api/v1/escalation-policies":                   {configure, "/api/v1/escalation-policies"}, // "{}" keeps no policy: refused, nothing saved
	"GET /api/v1/windows":                               {siteState, "/api/v1/windows"},
	"POST /api/v1/windows":                              {siteState, "/api/v1/windows"},
	"DELETE /api/v1/windows/{id}":                       {siteState, "/api/v1/windows/999999"},
	"GET /api/v1/schedules":                             {siteState, "/api/v1/schedules"},
	"POST /api/v1/schedules":                            {siteState, "/api/v1/schedules"},
	"DELETE /api/v1/schedules/{id}":                     {siteState, "/api/v1/schedules/999999"},
	"GET /api/v1/floors/{id}/plan":                      {signedIn, "/api/v1/floors/1/plan"}, // admin actions (web/apiadmin.go) from here: "{}" bodies are refused or name nothing
	"PUT /api/v1/floors/{id}/plan":                      {configure, "/api/v1/floors/999999/plan"},
	"POST /api/v1/floors/{id}/scale":                    {configure, "/api/v1/floors/999999/scale"},
	"POST /api/v1/gateways/{id}/token":                  {configure, "/api/v1/gateways/999999/token"},
	"GET /api/v1/discovered-tags":                       {configure, "/api/v1/discovered-tags"},
	"POST /api/v1/discovered-tags/{tag}/assign":         {configure, "/api/v1/discovered-tags/no-such-tag/assign"},
	"POST /api/v1/discovered-tags/{tag}/dismiss":        {configure, "/api/v1/discovered-tags/no-such-tag/dismiss"},
	"PUT /api/v1/assets/{id}/status":                    {setStatus, "/api/v1/assets/999999/status"},
	"POST /api/v1/assets/import":                        {configure, "/api/v1/assets/import"}, // a JSON body is not CSV: refused
	"GET /api/v1/api-tokens":                            {configure, "/api/v1/api-tokens"},
	"POST /api/v1/api-tokens":                           {configure, "/api/v1/api-tokens"}, // no name or role: refused
	"DELETE /api/v1/api-tokens/{id}":                    {configure, "/api/v1/api-tokens/999999"},
	"GET /api/v1/audit":                                 {configure, "/api/v1/audit"},
	"POST /api/v1/modbus-devices/test":                  {configure, "/api/v1/modbus-devices/test"}, // no profile: a failed report, no I/O
	"POST /api/v1/snmp-targets/test":                    {configure, "/api/v1/snmp-targets/test"},
	"GET /api/v1/system":                                {siteState, "/api/v1/system"},
	"GET /api/v1/rfid-readers":                          {configure, "/api/v1/rfid-readers"}, // devices (web/apidevices.go) from here: "{}" bodies are refused or name nothing
	"GET /api/v1/rfid-readers/{id}":                     {configure, "/api/v1/rfid-readers/999999"},
	"POST /api/v1/rfid-readers":                         {configure, "/api/v1/rfid-readers"},
	"PUT /api/v1/rfid-readers/{id}":                     {configure, "/api/v1/rfid-readers/999999"},
	"DELETE /api/v1/rfid-readers/{id}":                  {configure, "/api/v1/rfid-readers/999999"},
	"POST /api/v1/rfid-readers/{id}/token":              {configure, "/api/v1/rfid-readers/999999/token"},
	"GET /api/v1/poll-targets":                          {configure, "/api/v1/poll-targets"},
	"GET /api/v1/poll-targets/{id}":                     {configure, "/api/v1/poll-targets/999999"},
	"POST /api/v1/poll-targets":                         {configure, "/api/v1/poll-targets"},
	"PUT /api/v1/poll-targets/{id}":                     {configure, "/api/v1/poll-targets/999999"},
	"DELETE /api/v1/poll-targets/{id}":                  {configure, "/api/v1/poll-targets/999999"},
	"GET /api/v1/kiosks":                                {configure, "/api/v1/kiosks"},
	"POST /api/v1/kiosks":                               {configure, "/api/v1/kiosks"},
	"DELETE /api/v1/kiosks/{id}":                        {configure, "/api/v1/kiosks/999999"},
	"GET /api/v1/profiles":                              {configure, "/api/v1/profiles"},
	"GET /api/v1/profiles/{kind}/{name}":                {configure, "/api/v1/profiles/modbus/fridge-controller"},
	"PUT /api/v1/profiles/{kind}/{name}":                {configure, "/api/v1/profiles/modbus/no-such-profile"}, // no source: refused
	"DELETE /api/v1/profiles/{kind}/{name}":             {configure, "/api/v1/profiles/modbus/no-such-profile"},
	"GET /api/v1/units/{id}/daily":                      {signedIn, "/api/v1/units/999999/daily"},
	"POST /api/v1/units/{id}/daily-reviews":             {signOff, "/api/v1/units/999999/daily-reviews"},
	"GET /api/v1/units/{id}/mkt":                        {signedIn, "/api/v1/units/999999/mkt"},
	"GET /api/v1/stock":                                 {signedIn, "/api/v1/stock"},
	"GET /api/v1/stream":                                {signedIn, "/api/v1/stream?topics=no-such-topic"}, // a bad topic ends it at once; TestAPIStream streams
	"GET /healthz":                                      {public, "/healthz"},
	"GET /metrics":                                      {public, "/metrics"},
	"GET /static/":                                      {public, "/static/app.css"},
	"ingestPattern":                                     {public, ""}, // gateways authenticate with their own tokens: collectors/ble tests
	"readerIngestPattern":                               {public, ""}, // readers too: collectors/rfid tests and TestRFIDReaderPushAndPoll
	"/":                                                 {public, "/no/such/page"},
}

// TestEveryRouteChecksRoles walks every route of web/routes.go as every
// role (and signed out) against the real service and checks the answer:
// 403 for roles without the permission, never 403 (nor a 5xx) for roles
// with it, and a sign-in redirect (pages) or 401 when signed out.
func TestEveryRouteChecksRoles(t *testing.T) {
	src, err := os.ReadFile("../../web/routes.go")
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range regexp.MustCompile(`mux\.Handle\(("([^"]+)"|(\w+Pattern|apiPrefix))`).FindAllStringSubmatch(string(src), -1) {
		pattern := m[2]
		if pattern == "" {
			pattern = m[3]
		}
		if _, ok := routeRules[pattern]; !ok {
			t.Errorf("route %q of web/routes.go has no rule in this test", pattern)
		}
	}

	hr := startHospital(t, nil)
	ctx := context.Background()
	store, base := hr.store, hr.base
	const password = "a long enough test password"
	hash, err := auth.HashPassword(password)
	if err != nil {
		t.Fatal(err)
	}
	roles := allowedRoles[signedIn]
	for _, r := range roles {
		if err := store.CreateUser(ctx, &wardwatch.User{Username: "u-" + string(r), Role: r, PasswordHash: hash}); err != nil {
			t.Fatal(err)
		}
	}
	noRedirect := func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	clientFor := func(role wardwatch.Role) *http.Client {
		jar, _ := cookiejar.New(nil)
		c := &http.Client{Jar: jar, CheckRedirect: noRedirect}
		if role == "" {
			return c
		}
		form := url.Values{"username": {"u-" + string(role)}, "password": {password}}
		req, _ := http.NewRequest(http.MethodPost, base+"/login", strings.NewReader(form.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.Header.Set("Sec-Fetch-Site", "same-origin")
		resp, err := c.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusSeeOther {
			t.Fatalf("login as %s: %d", role, resp.StatusCode)
		}
		return c
	}
	do := func(c *http.Client, method, path string) int {
		var body io.Reader
		if method == http.MethodPost {
			body = strings.NewReader("x=1")
		}
		req, _ := http.NewRequest(method, base+path, body)
		req.Header.Set("Accept", "text/html")
		req.Header.Set("Sec-Fetch-Site", "same-origin")
		if method == http.MethodPost {
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		}
		resp, err := c.Do(req)
		if err != nil {
			t.Fatalf("%s %s: %v", method, path, err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		return resp.StatusCode
	}

	// The API takes bearer tokens of each role instead of sessions.
	tokens := map[wardwatch.Role]string{}
	for _, r := range roles {
		text := "wwt_" + strings.Repeat(string(r[0]), 52)
		if err := store.CreateAPIToken(ctx, &wardwatch.APIToken{Name: "roles " + string(r), Role: r, Prefix: text[:12],
			CreatedBy: "test", SecretHash: auth.HashToken(text)}); err != nil {
			t.Fatal(err)
		}
		tokens[r] = text
	}
	doAPI := func(token, method, path string) int {
		var body io.Reader
		if method == http.MethodPost || method == http.MethodPut {
			body = strings.NewReader("{}")
		}
		req, _ := http.NewRequest(method, base+path, body)
		if token != "" {
			req.Header.Set("Authorization", "Bearer "+token)
		}
		if body != nil {
			req.Header.Set("Content-Type", "application/json")
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatalf("%s %s: %v", method, path, err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		return resp.StatusCode
	}

	clients := map[wardwatch.Role]*http.Client{}
	for _, r := range roles {
		clients[r] = clientFor(r)
	}
	anonymous := clientFor("")
	for pattern, rule := range routeRules {
		if rule.access == public || rule.path == "" {
			continue
		}
		method, _, _ := strings.Cut(pattern, " ")
		for _, r := range roles {
			allowed := false
			for _, ok := range allowedRoles[rule.access] {
				allowed = allowed || ok == r
			}
			var got int
			if isAPIPath(rule.path) {
				got = doAPI(tokens[r], method, rule.path)
			} else {
				got = do(clients[r], method, rule.path)
			}
			switch {
			case allowed && (got == http.StatusForbidden || got >= 500):
				t.Errorf("%s as %s: %d, want it allowed", pattern, r, got)
			case !allowed && got != http.StatusForbidden:
				t.Errorf("%s as %s: %d, want 403", pattern, r, got)
			}
		}
		if isAPIPath(rule.path) {
			if got := doAPI("", method, rule.path); got != http.StatusUnauthorized {
				t.Errorf("%s without a token: %d, want 401", pattern, got)
			}
			continue
		}
		got := do(anonymous, method, rule.path)
		if got != http.StatusSeeOther && got != http.StatusUnauthorized {
			t.Errorf("%s signed out: %d, want a sign-in redirect or 401", pattern, got)
		}
	}
}

// isAPIPath reports whether path belongs to the token-authenticated APIs.
func isAPIPath(path string) bool {
	return strings.HasPrefix(path, "/api/") || strings.HasPrefix(path, "/fhir/")
}
