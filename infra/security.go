package main

import (
	"slices"

	"github.com/mountainhighway/marketplace/internal/account"
)

// emfEvents is the EMF metric internal/telemetry writes once per business or
// security event, with the dimensions Event, Function and Stage (the
// wrapper's two plus the event name). CloudWatch keys a metric by its exact
// dimension set, so an alarm or graph must name all three.
const emfEvents = "Events"

// securityEvent is one security event of internal/account with the registry
// functions that emit it: the Function dimension of its metric.
type securityEvent struct {
	Name     string
	Emitters []string
}

// securityGraph is one graph of the dashboard's Security row.
type securityGraph struct {
	Title  string
	Events []securityEvent
}

// securityGraphs are the Security row, in the order of a sign-in's life. The
// emitters follow from which function calls which account.Service method:
// Register, Login, Refresh, BecomeSeller and SetRoles.
var securityGraphs = []securityGraph{
	{"sign-ins", []securityEvent{
		{account.EventLoginSucceded, []string{"auth-login"}},
		{account.EventLoginFailed, []string{"auth-login"}},
	}},
	{"lockouts", []securityEvent{
		{account.EventLockout, []string{"auth-login"}},
	}},
	{"refresh-token reuse", []securityEvent{
		{account.EventTokenReused, []string{"auth-refresh"}},
	}},
	{"sign-ups and role changes", []securityEvent{
		{account.EventRegistered, []string{"auth-register"}},
		{account.EventRoleChanged, []string{"me-seller", "admin-user-roles"}},
	}},
}

// securityAlarm pages on a security event counted over one alarm period.
type securityAlarm struct {
	Slug      string // mh-<stage>-<Slug>
	Event     string
	Function  string // the registry function that emits Event
	Threshold float64
	Runbook   string // file in runbookDir
	Meaning   string // what the count means, for the alarm description
}

// securityAlarms: a reused refresh token means a copy of it is in someone
// else's hands, so a single one pages; lockouts come from people who forgot
// their password too, so only a burst that no group of forgetful users makes
// (20 in five minutes) is taken for credential stuffing.
var securityAlarms = []securityAlarm{
	{
		Slug: "security-token-reuse", Event: account.EventTokenReused, Function: "auth-refresh", Threshold: 1,
		Runbook: "security-token-reuse.md",
		Meaning: "a rotated refresh token was presented again: a copy of it is in someone else's hands (its session family was revoked)",
	},
	{
		Slug: "security-credential-stuffing", Event: account.EventLockout, Function: "auth-login", Threshold: 20,
		Runbook: "security-credential-stuffing.md",
		Meaning: "sign-in lockouts at a rate only credential stuffing or a password-guessing campaign produces",
	},
}

// deployed reports whether the registry function name is among fns.
func deployed(fns []dashboardFunction, name string) bool {
	return slices.ContainsFunc(fns, func(fn dashboardFunction) bool { return fn.Spec.Name == name })
}

// securityEventNames are the events of the Security row, in its order.
func securityEventNames() []string {
	var names []string
	for _, g := range securityGraphs {
		for _, ev := range g.Events {
			names = append(names, ev.Name)
		}
	}
	return names
}
