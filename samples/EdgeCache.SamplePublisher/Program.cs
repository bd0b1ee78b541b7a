// The sample publisher: `dotnet run` (or SAMPLE_PUBLISHER=1 deploy/local/up.sh). See the README's
// "Sample publisher app" section for a walk-through with curl.
var app = EdgeCache.SamplePublisher.PublisherApp.Build(args);
await app.RunAsync();
