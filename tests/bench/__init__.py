"""The bulk benchmark: ``python -m tests.bench [--people N] [--smoke] [--out docs/performance.md]``.

It runs the collection's real playbooks against the sandbox with throttling at the published Graph limits and 50 ms of
latency on every request, over a generated hosts-as-people inventory:

- S1 onboard N ``entra_source`` joiners (user, licence, two aliases, Practice Protect invitation, one role);
- S2 the same inventory again, when nothing has changed;
- S3 offboard N/5 of them (200 of 1,000);
- S4 one more joiner alone, ``--limit`` over the whole inventory (the AWX survey case);
- S5 the N joiners into a fresh tenant as an AWX job sliced in four: four ``ansible-playbook`` processes at once, each
  with ``--limit`` on every fourth host, against one tenant whose throttling they share;

and, against a fresh sandbox with the same knobs, the same S1 and S2 written by hand with ``ansible.builtin.uri``
(``baseline/onboard.yml``). Modules: ``inventory`` (the people), ``metrics`` (counting the request log, write rates,
the recap), ``rss`` (peak memory of the process tree), ``baseline`` (the hand-written playbook and its inventory vars),
``report`` (docs/performance.md) and ``run`` (the sandboxes and the scenarios).
"""
