using EdgeCache.Proxy;

// The edge host is configuration and pipeline order only; the engine lives in libs/.
var app = EdgeCacheNode.Build(NodeRole.Edge, args);
app.Run();
