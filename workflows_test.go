package main

import (
	"bytes"
	"cmp"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"regexp"
	"runtime"
	"slices"
	"strings"
	"testing"

	"github.com/rhysd/actionlint"

	"github.com/galerly/galerly-lambda/build/cache"
)

// The GitHub Actions workflows are checked here, so that a broken workflow
// fails `go test ./...` on the branch that breaks it, not the first pull
// request or deploy after it is merged.

const (
	previewWorkflow = ".github/workflows/preview.yml"
	deployWorkflow  = ".github/workflows/deploy.yml"

	actionPulumi    = "pulumi/actions"
	actionAWSCreds  = "aws-actions/configure-aws-credentials"
	actionCache     = "actions/cache"
	actionSetupPy   = "actions/setup-python"
	actionSetupGo   = "actions/setup-go"
	prodStack       = "prod"
	lambdapackCache = "~/.cache/lambdapack"
)

var workflowFiles = []string{previewWorkflow, deployWorkflow}

// workflow is a parsed workflow file.
type workflow struct {
	Path string
	Src  []byte
	*actionlint.Workflow
}

func loadWorkflow(t *testing.T, file string) *workflow {
	t.Helper()
	src, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	w, errs := actionlint.Parse(src)
	if len(errs) > 0 {
		t.Fatalf("%s does not parse:\n%s", file, lintErrors(file, errs))
	}
	return &workflow{Path: file, Src: src, Workflow: w}
}

// lintErrors formats actionlint errors as file:line:col: message [kind].
func lintErrors(file string, errs []*actionlint.Error) string {
	var b strings.Builder
	for _, e := range errs {
		if e.Filepath == "" {
			e.Filepath = file
		}
		b.WriteString("  " + e.Error() + "\n")
	}
	return b.String()
}

// job returns the job with the given id.
func (w *workflow) job(t *testing.T, id string) *actionlint.Job {
	t.Helper()
	j, ok := w.Jobs[id]
	if !ok {
		t.Fatalf("%s has no job %q (jobs: %v)", w.Path, id, w.jobIDs())
	}
	return j
}

func (w *workflow) jobIDs() []string {
	var ids []string
	for id := range w.Jobs {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	return ids
}

// at names a position in the workflow for a failure message.
func (w *workflow) at(p *actionlint.Pos) string {
	if p == nil {
		return w.Path
	}
	return fmt.Sprintf("%s:%d:%d", w.Path, p.Line, p.Col)
}

// action returns the action a step uses, without its version ("owner/repo"
// or "owner/repo/path"), and the version; "" for a run step.
func action(s *actionlint.Step) (name, version string) {
	a, ok := s.Exec.(*actionlint.ExecAction)
	if !ok || a.Uses == nil {
		return "", ""
	}
	name, version, _ = strings.Cut(a.Uses.Value, "@")
	return name, version
}

// input returns a step's input by name, and whether it is set.
func input(s *actionlint.Step, name string) (string, bool) {
	a, ok := s.Exec.(*actionlint.ExecAction)
	if !ok {
		return "", false
	}
	for _, in := range a.Inputs {
		if strings.EqualFold(in.Name.Value, name) {
			return in.Value.Value, true
		}
	}
	return "", false
}

// script returns a run step's script; "" for an action step.
func script(s *actionlint.Step) string {
	if r, ok := s.Exec.(*actionlint.ExecRun); ok && r.Run != nil {
		return r.Run.Value
	}
	return ""
}

// env returns the step's env, then its job's, then the workflow's
// value of name: what the step's process sees.
func (w *workflow) env(j *actionlint.Job, s *actionlint.Step, name string) (string, bool) {
	for _, e := range []*actionlint.Env{s.Env, j.Env, w.Env} {
		if e == nil {
			continue
		}
		for _, v := range e.Vars {
			if v.Name.Value == name {
				return v.Value.Value, true
			}
		}
	}
	return "", false
}

// stepsUsing returns the indexes of j's steps that use the action.
func stepsUsing(j *actionlint.Job, name string) []int {
	var out []int
	for i, s := range j.Steps {
		if n, _ := action(s); n == name {
			out = append(out, i)
		}
	}
	return out
}

// pulumiStep returns the job and index of the one pulumi/actions step of w.
func (w *workflow) pulumiStep(t *testing.T) (*actionlint.Job, int) {
	t.Helper()
	var (
		job   *actionlint.Job
		index = -1
	)
	for _, id := range w.jobIDs() {
		j := w.Jobs[id]
		for _, i := range stepsUsing(j, actionPulumi) {
			if index >= 0 {
				t.Fatalf("%s runs %s more than once (%s)", w.Path, actionPulumi, w.at(j.Steps[i].Pos))
			}
			job, index = j, i
		}
	}
	if index < 0 {
		t.Fatalf("%s has no %s step", w.Path, actionPulumi)
	}
	return job, index
}

// pulumiOutputRef matches an expression reading a step's output.
var pulumiOutputRef = regexp.MustCompile(`steps\.([A-Za-z0-9_-]+)\.outputs\.([A-Za-z0-9_-]+)`)

// undeclaredOutput is actionlint's message for a step output that the
// action's metadata does not declare.
var undeclaredOutput = regexp.MustCompile(`^property "([a-z0-9_-]+)" is not defined in object type \{output: string\}$`)

// stackOutputRefs returns, for each pulumi/actions step id of w, the
// outputs read from it: pulumi/actions sets every stack output as a step
// output when it runs, which its action.yml cannot declare.
func (w *workflow) stackOutputRefs() map[string][]string {
	ids := map[string]bool{}
	for _, j := range w.Jobs {
		for _, i := range stepsUsing(j, actionPulumi) {
			if s := j.Steps[i]; s.ID != nil {
				ids[s.ID.Value] = true
			}
		}
	}
	refs := map[string][]string{}
	for _, m := range pulumiOutputRef.FindAllStringSubmatch(string(w.Src), -1) {
		if ids[m[1]] && !slices.Contains(refs[m[1]], m[2]) {
			refs[m[1]] = append(refs[m[1]], m[2])
		}
	}
	return refs
}

// programOutputs returns the names of the outputs the program exports for
// the prod stack.
func programOutputs(t *testing.T) []string {
	t.Helper()
	var names []string
	for name := range exported(t, run{config: stackConfig(t, prodStack)}) {
		names = append(names, name)
	}
	slices.Sort(names)
	return names
}

func TestWorkflowsLint(t *testing.T) {
	// actionlint runs shellcheck on every `run:` script when it is
	// installed (GitHub's runners have it); without it the scripts are not
	// linted but everything else is. No workflow step runs Python, so
	// pyflakes is not needed.
	shellcheck, err := exec.LookPath("shellcheck")
	if err != nil {
		shellcheck = ""
		t.Log("shellcheck is not on PATH: run: scripts are not linted (the rest of each workflow is)")
	}
	outputs := programOutputs(t)
	for _, file := range workflowFiles {
		t.Run(path.Base(file), func(t *testing.T) {
			w := loadWorkflow(t, file)
			linter, err := actionlint.NewLinter(&bytes.Buffer{}, &actionlint.LinterOptions{
				Shellcheck: shellcheck,
				// A missing .github/actionlint.yaml is fine; the linter
				// looks for it from here.
				WorkingDir: projectRoot(t),
			})
			if err != nil {
				t.Fatal(err)
			}
			errs, err := linter.Lint(file, w.Src, nil)
			if err != nil {
				t.Fatal(err)
			}

			// A stack output read from the pulumi/actions step is the one
			// thing actionlint cannot know; each such read is checked
			// against what the program really exports instead.
			refs := w.stackOutputRefs()
			var readable []string
			for _, names := range refs {
				for _, n := range names {
					if slices.Contains(outputs, n) {
						readable = append(readable, strings.ToLower(n))
					}
				}
			}
			errs = slices.DeleteFunc(errs, func(e *actionlint.Error) bool {
				m := undeclaredOutput.FindStringSubmatch(e.Message)
				return e.Kind == "expression" && m != nil && slices.Contains(readable, m[1])
			})
			if len(errs) > 0 {
				t.Errorf("actionlint:\n%s", lintErrors(file, errs))
			}
			for id, names := range refs {
				for _, n := range names {
					if !slices.Contains(outputs, n) {
						t.Errorf("%s reads steps.%s.outputs.%s, but the program exports no output %s (it exports %v)", file, id, n, n, outputs)
					}
				}
			}
		})
	}
}

func TestWorkflowTriggers(t *testing.T) {
	type trigger struct {
		event    string
		branches []string // nil: no branch filter
	}
	tests := []struct {
		file string
		want []trigger
	}{
		// Every pull request into main gets a preview, nothing else does.
		{previewWorkflow, []trigger{{"pull_request", []string{"main"}}}},
		// Only main deploys, on push or by hand.
		{deployWorkflow, []trigger{{"push", []string{"main"}}, {"workflow_dispatch", nil}}},
	}
	for _, tt := range tests {
		t.Run(path.Base(tt.file), func(t *testing.T) {
			w := loadWorkflow(t, tt.file)
			var got []trigger
			for _, ev := range w.On {
				tr := trigger{event: ev.EventName()}
				if wh, ok := ev.(*actionlint.WebhookEvent); ok {
					if wh.Branches != nil {
						for _, b := range wh.Branches.Values {
							tr.branches = append(tr.branches, b.Value)
						}
					}
					if wh.BranchesIgnore != nil || wh.Paths != nil || wh.PathsIgnore != nil || wh.Tags != nil || len(wh.Types) > 0 {
						t.Errorf("%s: %s has extra filters (paths, tags, types or branches-ignore): a change they leave out would skip the workflow", w.at(wh.Pos), tr.event)
					}
				}
				got = append(got, tr)
			}
			if fmt.Sprint(got) != fmt.Sprint(tt.want) {
				t.Errorf("%s triggers on %v, want %v", tt.file, got, tt.want)
			}
		})
	}
}

func TestWorkflowPermissions(t *testing.T) {
	for _, file := range workflowFiles {
		t.Run(path.Base(file), func(t *testing.T) {
			w := loadWorkflow(t, file)
			// The workflow's default is read-only, and every job states its
			// own, so a scope added for one job cannot leak into another.
			if w.Permissions == nil {
				t.Errorf("%s sets no workflow permissions: the token would get the repository's default (possibly write-all)", file)
			} else {
				checkScopes(t, w, w.Permissions, "the workflow", nil)
			}
			for _, id := range w.jobIDs() {
				j := w.Jobs[id]
				if j.Permissions == nil {
					t.Errorf("%s: job %s sets no permissions of its own: it gets the workflow's", file, id)
					continue
				}
				// id-token: write only where an AWS role is assumed through
				// OIDC; pull-requests: write only where the preview is
				// commented on the pull request.
				var writes []string
				if len(stepsUsing(j, actionAWSCreds)) > 0 {
					writes = append(writes, "id-token")
				}
				for _, i := range stepsUsing(j, actionPulumi) {
					if v, _ := input(j.Steps[i], "comment-on-pr"); v == "true" {
						writes = append(writes, "pull-requests")
					}
				}
				checkScopes(t, w, j.Permissions, "job "+id, writes)
			}
		})
	}
}

// checkScopes fails t unless p grants contents: read and write access to
// exactly the scopes in writes, and nothing else.
func checkScopes(t *testing.T, w *workflow, p *actionlint.Permissions, who string, writes []string) {
	t.Helper()
	if p.All != nil {
		t.Errorf("%s: %s grants %q to every scope; name each scope instead", w.at(p.Pos), who, p.All.Value)
		return
	}
	got := map[string]string{}
	for _, s := range p.Scopes {
		got[s.Name.Value] = s.Value.Value
	}
	want := map[string]string{"contents": "read"}
	for _, s := range writes {
		want[s] = "write"
	}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("%s: %s has permissions %v, want %v", w.at(p.Pos), who, got, want)
	}
}

func TestDeployConcurrency(t *testing.T) {
	w := loadWorkflow(t, deployWorkflow)
	c := w.Concurrency
	switch {
	case c == nil:
		t.Fatalf("%s has no workflow concurrency: two pushes would run pulumi up at once", deployWorkflow)
	case c.Group == nil || c.Group.Value != "deploy-prod":
		t.Errorf("%s: concurrency group = %v, want deploy-prod", w.at(c.Pos), c.Group)
	case c.CancelInProgress == nil || c.CancelInProgress.Expression != nil || c.CancelInProgress.Value:
		t.Errorf("%s: cancel-in-progress must be false: cancelling pulumi up halfway leaves pending operations in the state", w.at(c.Pos))
	}
	for _, id := range w.jobIDs() {
		if j := w.Jobs[id]; j.Concurrency != nil {
			t.Errorf("%s: job %s has its own concurrency: deploys must queue as whole runs, in push order", w.at(j.Concurrency.Pos), id)
		}
	}
	// A pull request's run in the deploy group would replace a waiting
	// deploy.
	p := loadWorkflow(t, previewWorkflow)
	if p.Concurrency != nil && p.Concurrency.Group != nil && strings.Contains(p.Concurrency.Group.Value, "deploy") {
		t.Errorf("%s: concurrency group %q shares the deploy's", w.at(p.Concurrency.Pos), p.Concurrency.Group.Value)
	}
}

// roleVar is how a workflow names the role it assumes: a repository
// variable, since a role ARN is not a secret.
var roleVar = regexp.MustCompile(`^\$\{\{ *vars\.AWS_[A-Z_]+_ROLE_ARN *\}\}$`)

func TestWorkflowsAWSAccess(t *testing.T) {
	prodRegion := stackConfig(t, prodStack)["aws:region"]
	for _, file := range workflowFiles {
		t.Run(path.Base(file), func(t *testing.T) {
			w := loadWorkflow(t, file)
			// No long-lived keys anywhere: not as secrets, env or inputs.
			for _, key := range []string{"AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "aws-access-key-id", "aws-secret-access-key", "AWS_SESSION_TOKEN"} {
				if i := bytes.Index(bytes.ToLower(w.Src), []byte(strings.ToLower(key))); i >= 0 {
					line := bytes.Count(w.Src[:i], []byte("\n")) + 1
					t.Errorf("%s:%d mentions %s: AWS access must come from OIDC (role-to-assume), not stored keys", file, line, key)
				}
			}
			for _, id := range w.jobIDs() {
				j := w.Jobs[id]
				creds := stepsUsing(j, actionAWSCreds)
				for _, i := range creds {
					s := j.Steps[i]
					role, _ := input(s, "role-to-assume")
					if !roleVar.MatchString(role) {
						t.Errorf("%s: role-to-assume = %q, want a repository variable ${{ vars.AWS_..._ROLE_ARN }}", w.at(s.Pos), role)
					}
					if region, _ := input(s, "aws-region"); region != prodRegion {
						t.Errorf("%s: aws-region = %q, want the prod stack's aws:region %q", w.at(s.Pos), region, prodRegion)
					}
				}
				// Every step that talks to AWS comes after the credentials.
				for i, s := range j.Steps {
					name, _ := action(s)
					if name != actionPulumi && !strings.Contains(script(s), "lambdapack verify") {
						continue
					}
					if len(creds) == 0 || creds[0] > i {
						t.Errorf("%s: this step talks to AWS before %s has run in job %s", w.at(s.Pos), actionAWSCreds, id)
					}
				}
			}
			// The preview role and the deploy role are different roles: a
			// pull request must not be able to assume the one that deploys.
			for _, id := range w.jobIDs() {
				j := w.Jobs[id]
				for _, i := range stepsUsing(j, actionAWSCreds) {
					role, _ := input(j.Steps[i], "role-to-assume")
					want := map[string]string{previewWorkflow: "AWS_PREVIEW_ROLE_ARN", deployWorkflow: "AWS_DEPLOY_ROLE_ARN"}[file]
					if !strings.Contains(role, want) {
						t.Errorf("%s: role-to-assume = %q, want vars.%s", w.at(j.Steps[i].Pos), role, want)
					}
				}
			}
		})
	}
}

// testedPythons returns the Python versions the project's tests ask
// testenv.FindPython for.
func testedPythons(t *testing.T) []string {
	t.Helper()
	re := regexp.MustCompile(`FindPython\([^,()]+, *"(3\.[0-9]+)"\)`)
	var out []string
	err := filepath.WalkDir(".", func(p string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && (strings.HasPrefix(d.Name(), ".") && p != ".") {
			return filepath.SkipDir
		}
		if d.IsDir() || !strings.HasSuffix(p, "_test.go") {
			return nil
		}
		data, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		for _, m := range re.FindAllSubmatch(data, -1) {
			if v := string(m[1]); !slices.Contains(out, v) {
				out = append(out, v)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	slices.Sort(out)
	return out
}

func TestWorkflowsRunTheTests(t *testing.T) {
	command := readmeCommand(t, "run every test")
	ciRun, err := os.ReadFile(".ci/run")
	if err != nil {
		t.Fatal(err)
	}
	var ciRunsIt bool
	for _, line := range strings.Split(string(ciRun), "\n") {
		ciRunsIt = ciRunsIt || strings.TrimSpace(line) == command
	}
	pythons := testedPythons(t)
	if len(pythons) == 0 {
		t.Fatal("found no FindPython calls in the tests: the search pattern is out of date")
	}

	for _, file := range workflowFiles {
		t.Run(path.Base(file), func(t *testing.T) {
			w := loadWorkflow(t, file)
			// The test job runs the README's command, directly or through
			// .ci/run, which ends with it.
			var testJob string
			for _, id := range w.jobIDs() {
				for _, s := range w.Jobs[id].Steps {
					lines := strings.Split(strings.TrimSpace(script(s)), "\n")
					if slices.Contains(lines, command) || (slices.Contains(lines, ".ci/run") && ciRunsIt) {
						testJob = id
					}
				}
			}
			if testJob == "" {
				t.Fatalf("%s: no step runs %q (or .ci/run with it)", file, command)
			}
			j := w.Jobs[testJob]

			// Go from go.mod, with the module and build caches keyed by go.sum.
			for _, i := range stepsUsing(j, actionSetupGo) {
				s := j.Steps[i]
				if v, _ := input(s, "go-version-file"); v != "go.mod" {
					t.Errorf("%s: go-version-file = %q, want go.mod", w.at(s.Pos), v)
				}
				if v, _ := input(s, "cache-dependency-path"); v != "go.sum" {
					t.Errorf("%s: cache-dependency-path = %q, want go.sum", w.at(s.Pos), v)
				}
				if v, ok := input(s, "cache"); ok && v != "true" {
					t.Errorf("%s: cache = %q: the module and build caches are off", w.at(s.Pos), v)
				}
			}
			if len(stepsUsing(j, actionSetupGo)) != 1 {
				t.Errorf("%s: job %s sets up Go %d times, want once", file, testJob, len(stepsUsing(j, actionSetupGo)))
			}

			// Every Python the tests import layers with: the runner has no
			// pyenv, and under CI=true a missing one fails its tests.
			var versions []string
			for _, i := range stepsUsing(j, actionSetupPy) {
				v, _ := input(j.Steps[i], "python-version")
				versions = append(versions, strings.Fields(v)...)
			}
			for _, v := range pythons {
				if !slices.Contains(versions, v) {
					t.Errorf("%s: job %s sets up Python %v, but the tests need %s too", file, testJob, versions, v)
				}
			}
			// moto_server, which the AWS tests start on 127.0.0.1.
			var moto bool
			for _, s := range j.Steps {
				moto = moto || strings.Contains(script(s), "moto[server]")
			}
			if !moto {
				t.Errorf("%s: job %s does not install moto[server], which the upload and verify tests run", file, testJob)
			}
			// The job that previews or deploys waits for the tests.
			pj, _ := w.pulumiStep(t)
			if pj == j {
				t.Errorf("%s: the tests and pulumi run in one job, which then holds the OIDC permission while untrusted test code runs", file)
			} else if !slices.ContainsFunc(pj.Needs, func(s *actionlint.String) bool { return s.Value == testJob }) {
				t.Errorf("%s: job %s does not need %s: it would run even when the tests fail", file, pj.ID.Value, testJob)
			}
		})
	}
}

func TestWorkflowsPulumi(t *testing.T) {
	if _, err := os.Stat("Pulumi." + prodStack + ".yaml"); err != nil {
		t.Fatalf("the workflows preview and deploy stack %s: %v", prodStack, err)
	}
	goMod, err := os.ReadFile("go.mod")
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile(`(?m)^\s*github\.com/pulumi/pulumi/sdk/v3 v([0-9.]+)\s*$`).FindSubmatch(goMod)
	if m == nil {
		t.Fatal("go.mod does not require github.com/pulumi/pulumi/sdk/v3")
	}
	sdk := string(m[1])

	tests := []struct {
		file string
		want map[string]string
	}{
		{previewWorkflow, map[string]string{
			"command": "preview", "stack-name": prodStack, "diff": "true",
			"comment-on-pr": "true", "edit-pr-comment": "true",
		}},
		{deployWorkflow, map[string]string{"command": "up", "stack-name": prodStack}},
	}
	for _, tt := range tests {
		t.Run(path.Base(tt.file), func(t *testing.T) {
			w := loadWorkflow(t, tt.file)
			j, i := w.pulumiStep(t)
			s := j.Steps[i]
			for k, want := range tt.want {
				if got, _ := input(s, k); got != want {
					t.Errorf("%s: %s = %q, want %q", w.at(s.Pos), k, got, want)
				}
			}
			// The CLI that runs the program is the release the Go SDK in
			// go.mod came from, so CI and a laptop agree on the engine.
			if got, _ := input(s, "pulumi-version"); got != sdk {
				t.Errorf("%s: pulumi-version = %q, want %s, the github.com/pulumi/pulumi/sdk/v3 version in go.mod", w.at(s.Pos), got, sdk)
			}
			// The self-managed backend: its URL is a variable, the
			// passphrase that decrypts the stack's secrets a secret.
			for name, want := range map[string]string{
				"PULUMI_BACKEND_URL":       "${{ vars.PULUMI_BACKEND_URL }}",
				"PULUMI_CONFIG_PASSPHRASE": "${{ secrets.PULUMI_CONFIG_PASSPHRASE }}",
			} {
				if got, _ := w.env(j, s, name); got != want {
					t.Errorf("%s: %s = %q, want %s", w.at(s.Pos), name, got, want)
				}
			}
			// Secrets reach only the step that needs them, not every action
			// of the job.
			for _, e := range []*actionlint.Env{w.Env, j.Env} {
				if e == nil {
					continue
				}
				for _, v := range e.Vars {
					if strings.Contains(v.Value.Value, "secrets.") {
						t.Errorf("%s: %s = %s is set for the whole job or workflow; set it on the step that uses it", w.at(v.Value.Pos), v.Name.Value, v.Value.Value)
					}
				}
			}
			if _, ok := w.env(j, s, "PULUMI_ACCESS_TOKEN"); ok {
				t.Errorf("%s: PULUMI_ACCESS_TOKEN is set, but the stack lives in the self-managed backend", w.at(s.Pos))
			}
		})
	}
}

func TestDeployVerifiesTheLiveFunction(t *testing.T) {
	w := loadWorkflow(t, deployWorkflow)
	j, up := w.pulumiStep(t)
	id := ""
	if s := j.Steps[up]; s.ID != nil {
		id = s.ID.Value
	}
	if id == "" {
		t.Fatalf("%s: the pulumi up step has no id, so no later step can read the stack outputs", w.at(j.Steps[up].Pos))
	}
	var verify *actionlint.Step
	for _, s := range j.Steps[up+1:] {
		if strings.Contains(script(s), "lambdapack verify") {
			verify = s
		}
	}
	if verify == nil {
		t.Fatalf("%s: no step after pulumi up runs lambdapack verify", deployWorkflow)
	}
	// The flags and their values: a value "$VAR" is resolved through the
	// step's env, so the check sees the expression the runner expands.
	words := strings.Fields(script(verify))
	flags := map[string]string{}
	for i, word := range words {
		if !strings.HasPrefix(word, "--") {
			continue
		}
		v := "true" // a flag with no value
		if i+1 < len(words) && !strings.HasPrefix(words[i+1], "--") {
			v = strings.Trim(words[i+1], `"`)
			if strings.HasPrefix(v, "$") {
				v, _ = w.env(j, verify, strings.Trim(v, "${}"))
			}
		}
		flags[word] = v
	}
	want := map[string]string{
		"--function":     "${{ steps." + id + ".outputs.functionName }}",
		"--qualifier":    "live",
		"--expect-layer": "${{ steps." + id + ".outputs.layerArn }}",
		"--invoke":       "true",
	}
	if fmt.Sprint(flags) != fmt.Sprint(want) {
		t.Errorf("%s: lambdapack verify flags = %v, want %v", w.at(verify.Pos), flags, want)
	}
	const cmdline = "go run ./build/cmd/lambdapack verify"
	if !strings.HasPrefix(strings.Join(words, " "), cmdline+" ") {
		t.Fatalf("%s: verify should run this commit's lambdapack (%s ...), got %q", w.at(verify.Pos), cmdline, script(verify))
	}

	// This commit's lambdapack accepts that command line: with the values
	// the program's outputs would give it and a Lambda endpoint that
	// refuses connections, it fails to reach Lambda (exit 1), not on its
	// usage (exit 2).
	outputs := exported(t, run{config: stackConfig(t, prodStack)})
	var args []string
	for _, word := range words[len(strings.Fields(cmdline))-1:] {
		if v := strings.Trim(word, `"`); strings.HasPrefix(v, "$") {
			expr, _ := w.env(j, verify, strings.Trim(v, "${}"))
			m := pulumiOutputRef.FindStringSubmatch(expr)
			if m == nil {
				t.Fatalf("%s: %s is %q, not a stack output", w.at(verify.Pos), v, expr)
			}
			word = fmt.Sprint(outputs[m[2]])
		}
		args = append(args, word)
	}
	bin := filepath.Join(t.TempDir(), "lambdapack")
	if out, err := exec.Command(goCommand(), "build", "-o", bin, "./build/cmd/lambdapack").CombinedOutput(); err != nil {
		t.Fatalf("go build ./build/cmd/lambdapack: %v\n%s", err, out)
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closed := "http://" + l.Addr().String()
	l.Close()
	cmd := exec.Command(bin, args...)
	cmd.Env = append(os.Environ(),
		"AWS_ENDPOINT_URL="+closed, "AWS_ENDPOINT_URL_LAMBDA=", "AWS_ACCESS_KEY_ID=test", "AWS_SECRET_ACCESS_KEY=test",
		"AWS_PROFILE=", "AWS_CONFIG_FILE="+os.DevNull, "AWS_SHARED_CREDENTIALS_FILE="+os.DevNull,
		"AWS_MAX_ATTEMPTS=1")
	out, err := cmd.CombinedOutput()
	var exit *exec.ExitError
	if !errors.As(err, &exit) || exit.ExitCode() != 1 {
		t.Errorf("lambdapack %s against %s: %v, want exit 1 (Lambda unreachable); output:\n%s", strings.Join(args, " "), closed, err, out)
	}
	if !strings.Contains(string(out), l.Addr().String()) && !strings.Contains(string(out), "connection refused") {
		t.Errorf("lambdapack verify did not fail on reaching %s; output:\n%s", closed, out)
	}
}

func TestWorkflowsWheelCache(t *testing.T) {
	// The cached folder is the one lambdapack uses when no --cache is
	// given, as in the program's build step: on Linux, $HOME/.cache.
	if runtime.GOOS == "linux" {
		home := t.TempDir()
		t.Setenv("HOME", home)
		t.Setenv("XDG_CACHE_HOME", "")
		dir, err := cache.DefaultDir()
		if err != nil {
			t.Fatal(err)
		}
		if want := filepath.Join(home, strings.TrimPrefix(lambdapackCache, "~/")); dir != want {
			t.Errorf("lambdapack's default cache is %s, but the workflows cache %s (= %s)", dir, lambdapackCache, want)
		}
	}
	// Every lock the prod stack builds from is in the cache key, so a
	// changed lock saves its wheels under a new key.
	cfg := stackConfig(t, prodStack)
	locks := []string{cfg[project+":layerLock"]}
	if l := cfg[project+":functionLock"]; l != "" {
		locks = append(locks, l)
	}
	keyRE := regexp.MustCompile(`^lambdapack-\$\{\{ runner\.os \}\}-\$\{\{ hashFiles\('([^']+)'\) \}\}$`)

	tests := []struct {
		file, job string
		before    func(s *actionlint.Step) bool // the step the cache must precede
	}{
		{previewWorkflow, "test", func(s *actionlint.Step) bool { return strings.Contains(script(s), "lambdapack layer") }},
		{deployWorkflow, "deploy", func(s *actionlint.Step) bool { n, _ := action(s); return n == actionPulumi }},
	}
	for _, tt := range tests {
		t.Run(path.Base(tt.file), func(t *testing.T) {
			w := loadWorkflow(t, tt.file)
			j := w.job(t, tt.job)
			caches := stepsUsing(j, actionCache)
			if len(caches) != 1 {
				t.Fatalf("%s: job %s has %d %s steps, want 1 for the wheel cache", tt.file, tt.job, len(caches), actionCache)
			}
			s := j.Steps[caches[0]]
			if p, _ := input(s, "path"); strings.TrimSpace(p) != lambdapackCache {
				t.Errorf("%s: path = %q, want %s", w.at(s.Pos), p, lambdapackCache)
			}
			key, _ := input(s, "key")
			m := keyRE.FindStringSubmatch(key)
			if m == nil {
				t.Fatalf("%s: key = %q, want lambdapack-${{ runner.os }}-${{ hashFiles('<the locks>') }}", w.at(s.Pos), key)
			}
			for _, l := range locks {
				if ok, _ := path.Match(m[1], l); !ok {
					t.Errorf("%s: the key hashes %s, which leaves out the lock %s", w.at(s.Pos), m[1], l)
				}
			}
			var used bool
			for i, st := range j.Steps {
				if tt.before(st) {
					used = true
					if i < caches[0] {
						t.Errorf("%s: this step runs before the wheel cache is restored", w.at(st.Pos))
					}
				}
			}
			if !used {
				t.Errorf("%s: job %s restores the wheel cache but no step builds with it", tt.file, tt.job)
			}
			// Nothing moves the cache elsewhere.
			if bytes.Contains(w.Src, []byte("XDG_CACHE_HOME")) {
				t.Errorf("%s sets XDG_CACHE_HOME, which moves lambdapack's cache away from %s", tt.file, lambdapackCache)
			}
			for _, st := range j.Steps {
				if c := regexp.MustCompile(`--cache\s+(\S+)`).FindStringSubmatch(script(st)); c != nil && c[1] != lambdapackCache {
					t.Errorf("%s: --cache %s, but the cached folder is %s", w.at(st.Pos), c[1], lambdapackCache)
				}
			}
		})
	}
}

// The preview's layer build is the deploy's minus the upload: the same
// lock, runtimes and architecture as the prod stack.
func TestPreviewBuildsTheProdLayer(t *testing.T) {
	w := loadWorkflow(t, previewWorkflow)
	var build *actionlint.Step
	for _, s := range w.job(t, "test").Steps {
		if strings.Contains(script(s), "lambdapack layer") {
			build = s
		}
	}
	if build == nil {
		t.Fatalf("%s: no step builds the layer", previewWorkflow)
	}
	cfg := stackConfig(t, prodStack)
	var runtimes []string
	if err := json.Unmarshal([]byte(cfg[project+":layerRuntimes"]), &runtimes); err != nil {
		t.Fatal(err)
	}
	want := []string{"--lock " + cfg[project+":layerLock"], "--arch " + cfg[project+":architecture"]}
	for _, r := range runtimes {
		want = append(want, "--runtime "+r)
	}
	words := strings.Fields(script(build))
	var got []string
	for i := 0; i+1 < len(words); i++ {
		if slices.Contains([]string{"--lock", "--arch", "--runtime"}, words[i]) {
			got = append(got, words[i]+" "+words[i+1])
		}
	}
	slices.Sort(got)
	slices.Sort(want)
	if !slices.Equal(got, want) {
		t.Errorf("%s: the layer build uses %v, the prod stack builds with %v", w.at(build.Pos), got, want)
	}
	if strings.Contains(script(build), "--upload") {
		t.Errorf("%s: the preview's layer build uploads; a pull request must not write to S3", w.at(build.Pos))
	}
	// With or without bytecode, as the deploy builds it.
	off := cfg[project+":bytecode"] == "false"
	if has := slices.Contains(words, "--no-bytecode"); has != off {
		t.Errorf("%s: the layer build passes --no-bytecode: %v; the prod stack's bytecode is %s", w.at(build.Pos), has, cmp.Or(cfg[project+":bytecode"], "true"))
	}
}

// buildsArtifacts reports whether a workflow step builds a layer or a
// function package: a lambdapack layer or function run, or `pulumi up`,
// whose build steps run them.
func buildsArtifacts(s *actionlint.Step) bool {
	if name, _ := action(s); name == actionPulumi {
		cmd, _ := input(s, "command")
		return cmd == "up"
	}
	sc := script(s)
	return strings.Contains(sc, "lambdapack layer") || strings.Contains(sc, "lambdapack function")
}

// prodPythons returns the Python versions ("3.11") the prod stack's
// builds compile bytecode for: the layer's runtimes and the function's;
// none when the stack turns bytecode off.
func prodPythons(t *testing.T) []string {
	t.Helper()
	cfg := stackConfig(t, prodStack)
	if cfg[project+":bytecode"] == "false" {
		return nil
	}
	var runtimes []string
	if err := json.Unmarshal([]byte(cfg[project+":layerRuntimes"]), &runtimes); err != nil {
		t.Fatal(err)
	}
	runtimes = append(runtimes, cfg[project+":functionRuntime"])
	var out []string
	for _, r := range runtimes {
		if v := strings.TrimPrefix(r, "python"); !slices.Contains(out, v) {
			out = append(out, v)
		}
	}
	slices.Sort(out)
	return out
}

// Every step that builds a layer or a function package has, earlier in its
// job, the interpreters the build compiles bytecode with: the runner has
// no pyenv, and a missing interpreter fails the build.
func TestWorkflowsSetUpTheBuildInterpreters(t *testing.T) {
	pythons := prodPythons(t)
	if len(pythons) == 0 {
		t.Skip("the prod stack builds without bytecode: no interpreter is needed")
	}
	for _, file := range workflowFiles {
		t.Run(path.Base(file), func(t *testing.T) {
			w := loadWorkflow(t, file)
			builds := 0
			for _, id := range w.jobIDs() {
				j := w.Jobs[id]
				var ready []string
				for _, s := range j.Steps {
					if name, _ := action(s); name == actionSetupPy {
						v, _ := input(s, "python-version")
						ready = append(ready, strings.Fields(v)...)
					}
					if !buildsArtifacts(s) {
						continue
					}
					builds++
					for _, v := range pythons {
						if !slices.Contains(ready, v) {
							t.Errorf("%s: this step builds with bytecode for Python %s, but job %s has set up only %v before it (%s with python-version %s)",
								w.at(s.Pos), v, id, ready, actionSetupPy, strings.Join(pythons, ", "))
						}
					}
				}
			}
			if builds == 0 {
				t.Errorf("%s builds no layer: the check above found nothing to check", file)
			}
		})
	}
}
