"""HTTP semantics the whole API shares (RFC 9110): methods (HEAD, Allow) and conditional requests
(ETag, If-Match, If-None-Match) with the Cache-Control of each kind of answer."""
