"""Review a change before it reaches a host: render every stack at two commits and diff them.

`infrakit preview-comment --base REF --head REF` writes the pull-request comment (the files,
scripts and units that would change on each host, the steps replaced, the hosts affected).
"""
