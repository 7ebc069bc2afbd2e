"""The webhooks dispatcher's log follower: endpoints as of each event, and one delivery per
event and subscribed endpoint, created exactly once with the tracking position."""
