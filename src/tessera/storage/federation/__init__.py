"""Federation's SQL: peers (``peers``), a node's own shared records (``shared``,
``outbox``), the hub's log and records (``log``, ``records``, ``feed``), and what a
node makes of records received from others (``remote_series``, ``remote_media``);
blind-hit notices (``notices``), case records (``cases``) and what a series shared at
``full`` shows (``full``).
"""
