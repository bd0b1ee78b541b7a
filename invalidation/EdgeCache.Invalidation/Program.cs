// The purge API host. Purge and TTL events over NATS JetStream are the invalidation issue's work;
// until then this host answers health probes and tells callers that purging is not available yet.
var builder = WebApplication.CreateBuilder(args);
builder.WebHost.ConfigureKestrel(k => k.AddServerHeader = false);
var app = builder.Build();
app.MapGet("/healthz", () => Results.Text("ok\n"));
app.MapPost("/purge", () => Results.Problem(
    title: "Purging is not available yet",
    detail: "The purge API and its NATS JetStream events are not implemented in this version.",
    statusCode: StatusCodes.Status501NotImplemented));
app.Run();
