"""The trail forwarded, as it is written, to each tenant's own SOC (docs/architecture.md, "The
trail forwarded to a tenant's SOC"): `document.py` (one JSON object per event, and its RFC 5424
frame), `addresses.py` (where a forwarder may connect), `secrets.py` (the HTTPS bearer secret,
sealed), `transports.py` (syslog over TCP or TLS, HTTPS), `delivery.py` (the cursor, retries with
back-off, one runner per forwarder) and `services.py` (configuring a forwarder, audited)."""
