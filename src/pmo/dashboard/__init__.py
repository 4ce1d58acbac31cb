"""HTML dashboards: pages in Japanese built on the same service functions as the JSON API."""
