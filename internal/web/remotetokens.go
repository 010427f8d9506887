package web

import (
	"errors"
	"net/http"

	"github.com/basalt-lava/basalt/internal/store"
)

// remoteTokensPost adds or replaces one of the user's remote artifact
// tokens (action "remote-add", fields "name" and "token") or deletes one
// (action "remote-delete", field "name"), as LAVA's "Remote artifact
// tokens" on its tokens page. The value is stored in clear, since the
// lab must send it for the user's jobs, and never shown back: not in the
// list, not in an error.
func (s *site) remoteTokensPost(w http.ResponseWriter, r *http.Request, u store.User) {
	name := r.PostFormValue("name")
	switch r.PostFormValue("action") {
	case "remote-add":
		if err := store.CheckRemoteToken(name, r.PostFormValue("token")); err != nil {
			// The check's message names the token, never its value.
			s.showTokens(w, r, u, http.StatusBadRequest, tokensData{RemoteError: "Not added: " + err.Error() + "."})
			return
		}
		if err := s.c.Store.PutRemoteToken(r.Context(), u.Name, name, r.PostFormValue("token")); err != nil {
			s.fail(w, r, err)
			return
		}
	case "remote-delete":
		if err := s.c.Store.DeleteRemoteToken(r.Context(), u.Name, name); err != nil && !errors.Is(err, store.ErrNotFound) {
			s.fail(w, r, err)
			return
		}
	}
	http.Redirect(w, r, "/api/tokens/", http.StatusSeeOther)
}
