using EdgeCache.Proxy;

// The shield host is configuration and pipeline order only; the engine lives in libs/.
var app = EdgeCacheNode.Build(NodeRole.Shield, args);
app.Run();
