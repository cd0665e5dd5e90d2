// Command gitops-health judges Kubernetes objects the way GitOps tools do, with their
// own code: kstatus (sigs.k8s.io/cli-utils/pkg/kstatus/status.Compute, what Flux, kpt
// and cli-utils use) and an Argo CD custom health check (a Lua script run by
// github.com/yuin/gopher-lua, the interpreter Argo CD embeds).
//
//	gitops-health <health.lua>  <objects.json  >verdicts.json
//
// stdin is a JSON array of objects; stdout is a JSON array, one verdict per object, in
// order: {"kstatus", "kstatusMessage", "argocd", "argocdMessage"}. An object kstatus
// cannot judge gets kstatus "Error"; a script that fails gets argocd "Error"; both with
// the error as the message. Any other problem (bad input, unreadable script) exits 2.
//
// The Lua runs as Argo CD runs a health check from argocd-cm without
// resource.customizations.useOpenLibs: only the base, package and table libraries are
// open (Argo CD also opens a reduced os library, which a health check has no use for),
// the object is the global `obj`, built from the JSON the way Argo CD's decodeValue
// builds it (numbers become Lua numbers, arrays sequences, objects tables), the script
// has one second, and the table it returns must carry a known `status`.
package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"time"

	lua "github.com/yuin/gopher-lua"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/cli-utils/pkg/kstatus/status"
)

type verdict struct {
	Kstatus        string `json:"kstatus"`
	KstatusMessage string `json:"kstatusMessage"`
	Argocd         string `json:"argocd"`
	ArgocdMessage  string `json:"argocdMessage"`
}

// The health codes Argo CD accepts from a script (gitops-engine pkg/health).
var argoCodes = map[string]bool{
	"Healthy": true, "Progressing": true, "Degraded": true,
	"Suspended": true, "Missing": true, "Unknown": true,
}

func main() {
	if len(os.Args) != 2 {
		fmt.Fprintln(os.Stderr, "usage: gitops-health <health.lua> <objects.json >verdicts.json")
		os.Exit(2)
	}
	script, err := os.ReadFile(os.Args[1])
	if err != nil {
		fail(err)
	}
	input, err := io.ReadAll(os.Stdin)
	if err != nil {
		fail(err)
	}
	var raws []json.RawMessage
	if err := json.Unmarshal(input, &raws); err != nil {
		fail(fmt.Errorf("stdin: want a JSON array of objects: %w", err))
	}
	verdicts := make([]verdict, 0, len(raws))
	for i, raw := range raws {
		// The unstructured JSON scheme keeps integers as int64, as client-go does;
		// kstatus reads metadata.generation and status.observedGeneration as int64.
		u := &unstructured.Unstructured{}
		if err := u.UnmarshalJSON(raw); err != nil {
			fail(fmt.Errorf("object %d: %w", i, err))
		}
		var v verdict
		if res, err := status.Compute(u); err != nil {
			v.Kstatus, v.KstatusMessage = "Error", err.Error()
		} else {
			v.Kstatus, v.KstatusMessage = res.Status.String(), res.Message
		}
		if code, message, err := argoHealth(string(script), u.Object); err != nil {
			v.Argocd, v.ArgocdMessage = "Error", err.Error()
		} else {
			v.Argocd, v.ArgocdMessage = code, message
		}
		verdicts = append(verdicts, v)
	}
	out := json.NewEncoder(os.Stdout)
	out.SetIndent("", "  ")
	if err := out.Encode(verdicts); err != nil {
		fail(err)
	}
}

func fail(err error) {
	fmt.Fprintln(os.Stderr, "gitops-health:", err)
	os.Exit(2)
}

// argoHealth runs a health script over one object and returns hs.status, hs.message.
func argoHealth(script string, obj map[string]interface{}) (string, string, error) {
	l := lua.NewState(lua.Options{SkipOpenLibs: true})
	defer l.Close()
	for _, lib := range []struct {
		name string
		open lua.LGFunction
	}{
		{lua.LoadLibName, lua.OpenPackage},
		{lua.BaseLibName, lua.OpenBase},
		{lua.TabLibName, lua.OpenTable},
	} {
		if err := l.CallByParam(lua.P{Fn: l.NewFunction(lib.open), NRet: 0, Protect: true},
			lua.LString(lib.name)); err != nil {
			return "", "", err
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	l.SetContext(ctx)
	l.SetGlobal("obj", toLua(l, obj))
	if err := l.DoString(script); err != nil {
		return "", "", err
	}
	hs, ok := l.Get(-1).(*lua.LTable)
	if !ok {
		return "", "", fmt.Errorf("expect table output from Lua script, not %s", l.Get(-1).Type())
	}
	code, message := hs.RawGetString("status"), hs.RawGetString("message")
	if code.Type() != lua.LTString || !argoCodes[code.String()] {
		return "Unknown", "Lua returned an invalid health status", nil
	}
	if message.Type() != lua.LTString && message != lua.LNil {
		return "", "", fmt.Errorf("hs.message is a %s, not a string", message.Type())
	}
	if message == lua.LNil {
		return code.String(), "", nil
	}
	return code.String(), message.String(), nil
}

// toLua converts decoded JSON into Lua values as Argo CD's decodeValue does.
func toLua(l *lua.LState, value interface{}) lua.LValue {
	switch v := value.(type) {
	case bool:
		return lua.LBool(v)
	case float64:
		return lua.LNumber(v)
	case int64:
		return lua.LNumber(v)
	case int:
		return lua.LNumber(v)
	case string:
		return lua.LString(v)
	case []interface{}:
		arr := l.CreateTable(len(v), 0)
		for _, item := range v {
			arr.Append(toLua(l, item))
		}
		return arr
	case map[string]interface{}:
		tbl := l.CreateTable(0, len(v))
		for key, item := range v {
			tbl.RawSetH(lua.LString(key), toLua(l, item))
		}
		return tbl
	}
	return lua.LNil
}
