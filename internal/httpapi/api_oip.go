package httpapi

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"mime"
	"net/http"
	"strconv"
	"strings"
	"sync"

	"github.com/hygie-health/hygie/internal/audit"
	"github.com/hygie-health/hygie/internal/auth"
	"github.com/hygie-health/hygie/internal/errs"
	"github.com/hygie-health/hygie/internal/serve"
)

// The Open Inference Protocol (KServe v2 REST) under /v2. Its handlers
// answer errors as the protocol says, {"error": "message"}, with 400 for a
// bad request, 404 for an unknown model or version, 503 when the model's
// queue is full or the request timed out. Authentication and authorization
// run before the handler and keep the platform's error shape.

// AddOIP registers the Open Inference Protocol routes.
func (s *Server) AddOIP(svc Services) {
	o := &oip{Services: svc, s: s}
	const tag = "inference (Open Inference Protocol v2)"
	s.Add(
		Route{Method: "GET", Pattern: "/v2", Summary: "Server metadata", Tag: tag, Scope: Public, Handler: o.h(o.server)},
		Route{Method: "GET", Pattern: "/v2/health/live", Summary: "Server liveness", Tag: tag, Scope: Public, Handler: o.h(o.live)},
		Route{Method: "GET", Pattern: "/v2/health/ready", Summary: "Server readiness: the registry database answers", Tag: tag, Scope: Public, Handler: o.h(o.ready)},
		Route{Method: "GET", Pattern: "/v2/models/{name}", Summary: "Model metadata (the version in the server's environment)", Tag: tag, Scope: Project, Perm: auth.PermModelRead, ProjectOf: o.projectOf(auth.PermModelRead), Handler: o.h(o.model)},
		Route{Method: "GET", Pattern: "/v2/models/{name}/versions/{version}", Summary: "Model metadata", Tag: tag, Scope: Project, Perm: auth.PermModelRead, ProjectOf: o.projectOf(auth.PermModelRead), Handler: o.h(o.model)},
		Route{Method: "GET", Pattern: "/v2/models/{name}/ready", Summary: "Model readiness", Tag: tag, Scope: Project, Perm: auth.PermModelRead, ProjectOf: o.projectOf(auth.PermModelRead), Handler: o.h(o.modelReady)},
		Route{Method: "GET", Pattern: "/v2/models/{name}/versions/{version}/ready", Summary: "Model version readiness", Tag: tag, Scope: Project, Perm: auth.PermModelRead, ProjectOf: o.projectOf(auth.PermModelRead), Handler: o.h(o.modelReady)},
		Route{Method: "POST", Pattern: "/v2/models/{name}/infer", Summary: "Inference with the version in the server's environment (or the model's canary)", Tag: tag, Scope: Project, Perm: auth.PermPredict, ProjectOf: o.projectOf(auth.PermPredict), Handler: o.h(o.infer)},
		Route{Method: "POST", Pattern: "/v2/models/{name}/versions/{version}/infer", Summary: "Inference with a given version", Tag: tag, Scope: Project, Perm: auth.PermPredict, ProjectOf: o.projectOf(auth.PermPredict), Handler: o.h(o.infer)},
	)
}

type oip struct {
	Services
	s *Server
}

// projectOf names the project of the model in the path. For a name that
// is no model, a caller who holds perm somewhere gets the protocol's 404
// from the handler (model names are unique across projects, so this tells
// them nothing registering one would not); others get the usual refusal.
func (o *oip) projectOf(perm auth.Perm) func(r *http.Request) (string, error) {
	return func(r *http.Request) (string, error) {
		p, err := o.Serve.ProjectOf(r.Context(), r.PathValue("name"))
		if err == nil || !errs.Is(err, errs.NotFound) {
			return p, err
		}
		if pr := auth.FromContext(r.Context()); pr != nil {
			if pr.Admin && auth.RoleHas(auth.RoleAdmin, perm) {
				return "-", nil
			}
			for _, project := range pr.Projects() {
				if pr.Can(project, perm) {
					return project, nil
				}
			}
		}
		return p, err
	}
}

// h adapts an OIP handler: its errors are written in the protocol's shape.
func (o *oip) h(fn HandlerFunc) HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) error {
		if err := fn(w, r); err != nil {
			o.writeError(w, r, err)
		}
		return nil
	}
}

// OIPError is the protocol's error body.
type OIPError struct {
	Error string `json:"error"`
}

func (o *oip) writeError(w http.ResponseWriter, r *http.Request, err error) {
	var (
		mbe    *http.MaxBytesError
		status int
		msg    string
	)
	switch {
	case errors.As(err, &mbe):
		w.Header().Set("Connection", "close")
		status, msg = http.StatusRequestEntityTooLarge, "request body larger than "+strconv.FormatInt(mbe.Limit, 10)+" bytes"
	case errors.Is(err, serve.ErrOverloaded), errors.Is(err, serve.ErrTimeout):
		w.Header().Set("Retry-After", "1")
		status, msg = http.StatusServiceUnavailable, err.Error()
	default:
		code := errs.CodeOf(err)
		status, msg = Status(code), errs.MessageOf(err)
		switch code {
		case errs.Internal:
			o.s.log.Error("internal error", "request_id", audit.RequestIDFrom(r.Context()), "route", r.Pattern, "err", err)
			msg = "internal error"
		case errs.Unavailable:
			o.s.log.Warn("database unavailable", "request_id", audit.RequestIDFrom(r.Context()), "route", r.Pattern, "err", err)
			w.Header().Set("Retry-After", RetryAfterUnavailable)
		}
	}
	_ = writeCompact(w, status, OIPError{Error: msg})
}

// writeCompact writes v as JSON without indentation (the inference path).
func writeCompact(w http.ResponseWriter, status int, v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return err
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_, err = w.Write(append(b, '\n'))
	return err
}

func (o *oip) server(w http.ResponseWriter, r *http.Request) error {
	return writeCompact(w, http.StatusOK, map[string]any{"name": "hygie", "version": "v2", "extensions": []string{}})
}

func (o *oip) live(w http.ResponseWriter, r *http.Request) error {
	return writeCompact(w, http.StatusOK, map[string]bool{"live": true})
}

func (o *oip) ready(w http.ResponseWriter, r *http.Request) error {
	if err := o.Serve.Ping(r.Context()); err != nil {
		o.s.log.Warn("readiness: registry database", "err", err)
		return writeCompact(w, http.StatusServiceUnavailable, map[string]bool{"ready": false})
	}
	return writeCompact(w, http.StatusOK, map[string]bool{"ready": true})
}

func optionalVersion(r *http.Request) (int, error) {
	if r.PathValue("version") == "" {
		return 0, nil
	}
	return pathInt(r, "version")
}

// tensorMeta is a tensor of the model metadata.
type tensorMeta struct {
	Name     string  `json:"name"`
	Datatype string  `json:"datatype"`
	Shape    []int64 `json:"shape"`
}

func (o *oip) model(w http.ResponseWriter, r *http.Request) error {
	n, err := optionalVersion(r)
	if err != nil {
		return err
	}
	name := r.PathValue("name")
	v, err := o.Serve.Resolve(r.Context(), name, n)
	if err != nil {
		return err
	}
	all, err := o.Registry.Versions(r.Context(), name)
	if err != nil {
		return err
	}
	versions := []string{}
	for _, x := range all {
		versions = append(versions, strconv.Itoa(x.Version))
	}
	ins, outs := []tensorMeta{}, []tensorMeta{}
	for _, t := range v.Signature.Inputs {
		ins = append(ins, tensorMeta{t.Name, t.Datatype, []int64{-1}})
	}
	for _, t := range v.Signature.Outputs {
		outs = append(outs, tensorMeta{t.Name, t.Datatype, []int64{-1}})
	}
	return writeCompact(w, http.StatusOK, map[string]any{"name": name, "versions": versions, "platform": v.Flavor, "inputs": ins, "outputs": outs,
		"parameters": map[string]any{"version": v.Version, "environment": v.Environment, "served_environment": o.Serve.Environment()}})
}

func (o *oip) modelReady(w http.ResponseWriter, r *http.Request) error {
	n, err := optionalVersion(r)
	if err != nil {
		return err
	}
	v, err := o.Serve.Ready(r.Context(), r.PathValue("name"), n)
	if err != nil && errs.Is(err, errs.NotFound) {
		return err
	}
	body := map[string]any{"name": r.PathValue("name"), "ready": err == nil}
	if err != nil {
		return writeCompact(w, http.StatusServiceUnavailable, body)
	}
	body["version"] = strconv.Itoa(v.Version)
	return writeCompact(w, http.StatusOK, body)
}

func (o *oip) infer(w http.ResponseWriter, r *http.Request) error {
	n, err := optionalVersion(r)
	if err != nil {
		return err
	}
	req, err := decodeInferRequest(r)
	if err != nil {
		return err
	}
	// A retry of the request (by a load balancer) logs nothing new.
	ctx, err := serve.WithIdempotencyKey(r.Context(), r.Header.Get("Idempotency-Key"))
	if err != nil {
		return err
	}
	resp, err := o.Serve.Infer(ctx, r.PathValue("name"), n, req)
	if err != nil {
		return err
	}
	w.Header()["Content-Type"] = []string{"application/json"}
	w.WriteHeader(http.StatusOK)
	bp := respBuffers.Get().(*[]byte)
	b := resp.AppendJSON((*bp)[:0])
	_, err = w.Write(b)
	if cap(b) <= 64<<10 {
		*bp = b
		respBuffers.Put(bp)
	}
	return err
}

// respBuffers hold response bodies while they are written (the writer
// copies them).
var respBuffers = sync.Pool{New: func() any { b := make([]byte, 0, 1024); return &b }}

// isJSON reports whether a Content-Type is JSON.
func isJSON(ct string) bool {
	if ct == "application/json" {
		return true
	}
	mt, _, err := mime.ParseMediaType(ct)
	return err == nil && (mt == "application/json" || strings.HasSuffix(mt, "+json"))
}

// decodeInferRequest reads an inference request: serve.ParseRequest for
// the plain form (the hot path), DecodeJSON for the rest and for errors,
// so both accept and refuse the same bodies with the same messages.
func decodeInferRequest(r *http.Request) (serve.Request, error) {
	var req serve.Request
	if !isJSON(r.Header.Get("Content-Type")) {
		return req, DecodeJSON(r, &req) // says what is wrong
	}
	var b []byte
	var err error
	if n := r.ContentLength; n > 0 && n < 1<<20 {
		// The server's body reader ends at Content-Length.
		b = make([]byte, n)
		_, err = io.ReadFull(r.Body, b)
	} else {
		b, err = io.ReadAll(r.Body)
	}
	if err != nil {
		return req, err
	}
	req, err = serve.ParseRequest(b)
	if err == nil {
		return req, nil
	}
	r.Body = io.NopCloser(bytes.NewReader(b))
	req = serve.Request{}
	return req, DecodeJSON(r, &req)
}
