#!/usr/bin/env bash
# Post a pull-request comment, or update the one this workflow posted before.
#
# The comment is found by its first line, a marker such as `<!-- infrakit:render-diff -->`:
# one comment per marker, edited in place on every push instead of piling up. Uses the GitHub
# CLI (`gh api`), which reads its token from GH_TOKEN.
#
# Environment:
#   GH_TOKEN    token with pull-requests: write (the workflow's GITHUB_TOKEN)
#   REPO        owner/name of the repository
#   PR_NUMBER   the pull request's number
#   BODY_FILE   the comment (Markdown); its first line is the marker, e.g. <!-- infrakit:render-diff -->
#   GH          the gh command (default: gh)
#
# Exit codes: 0 posted or updated, 1 the API call failed, 2 bad input.
set -Eeuo pipefail

readonly MAX_BYTES=65536

die() {
  printf 'pr-comment: %s\n' "$1" >&2
  exit "${2:-1}"
}

main() {
  local gh marker existing
  if [[ $# -gt 0 ]]; then
    sed -n '2,15p' "$0" | sed 's/^# \{0,1\}//'
    [[ "$1" == -h || "$1" == --help ]] && exit 0
    exit 2
  fi
  gh="${GH:-gh}"
  [[ -n "${GH_TOKEN:-}" ]] || die "GH_TOKEN is not set" 2
  [[ "${REPO:-}" =~ ^[A-Za-z0-9][A-Za-z0-9-]*/[A-Za-z0-9_.-]+$ && "${REPO##*/}" != . && "${REPO##*/}" != .. ]] \
    || die "REPO '${REPO:-}' is not owner/name" 2
  [[ "${PR_NUMBER:-}" =~ ^[1-9][0-9]*$ ]] || die "PR_NUMBER '${PR_NUMBER:-}' is not a pull request number" 2
  [[ -f "${BODY_FILE:-}" ]] || die "BODY_FILE '${BODY_FILE:-}' does not exist" 2
  (($(wc -c <"${BODY_FILE}") <= MAX_BYTES)) || die "BODY_FILE is over GitHub's ${MAX_BYTES} characters" 2
  marker="$(head -n1 -- "${BODY_FILE}")"
  [[ "${marker}" =~ ^\<\!--\ [a-z0-9:_-]+\ --\>$ ]] \
    || die "the first line of BODY_FILE must be a marker like <!-- infrakit:render-diff -->" 2
  existing="$("${gh}" api --paginate "repos/${REPO}/issues/${PR_NUMBER}/comments" \
    --jq ".[] | select(.body | startswith(\"${marker}\")) | .id" | sed -n 1p)" \
    || die "listing the comments of ${REPO}#${PR_NUMBER} failed"
  if [[ -n "${existing}" ]]; then
    [[ "${existing}" =~ ^[0-9]+$ ]] || die "unexpected comment id '${existing}'"
    "${gh}" api --method PATCH "repos/${REPO}/issues/comments/${existing}" -F "body=@${BODY_FILE}" >/dev/null \
      || die "updating comment ${existing} failed"
    printf 'pr-comment: updated comment %s on %s#%s\n' "${existing}" "${REPO}" "${PR_NUMBER}"
  else
    "${gh}" api --method POST "repos/${REPO}/issues/${PR_NUMBER}/comments" -F "body=@${BODY_FILE}" >/dev/null \
      || die "posting the comment failed"
    printf 'pr-comment: posted a comment on %s#%s\n' "${REPO}" "${PR_NUMBER}"
  fi
}

main "$@"
