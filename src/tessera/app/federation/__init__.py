"""Federation: national nodes share with a hub what their sharing rules allow, and
receive what the others share, without trusting the hub blindly.

One module a concept: ``peers`` (this node's key, the hubs and nodes it knows),
``share`` (a node's changes as signed deltas in its outbox), ``hub`` (the hub's log
and feed pages), ``request_signing`` (node -> hub requests), ``hub_log`` (a node's
check of the hub's log), ``pull`` (a node applying feed pages), ``read_ahead``,
``attestation`` (records checked against their origins' signatures), ``audience``
(whom a series reaches), ``receive`` (received records made local), ``wire``,
``status``, ``air_gap`` (the same bundles as files), and, sent beside the series,
``cases`` (case overlaps), ``full`` (series shared at ``full``) and ``notices``
(blind hits across nodes).
"""
