"""The web playground at /playground: one static page (HTML, CSS, ES modules) that uses the public API only."""
