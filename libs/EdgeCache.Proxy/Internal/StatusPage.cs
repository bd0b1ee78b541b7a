using System.Text.Json;
using Microsoft.AspNetCore.Http;
using Yarp.ReverseProxy;
using Yarp.ReverseProxy.Model;

namespace EdgeCache.Proxy.Internal;

/// <summary>
/// The admin endpoint's live status page: a single static page (no external assets, no build step)
/// that polls <c>/status.json</c> and draws this node's hit ratio and request rate as charts, its
/// tier sizes, shield health as this node sees it, and the purges it applied.
/// </summary>
internal sealed class StatusPage(CacheEngine engine, IProxyStateLookup proxyState, TimeProvider time, EdgeCache.Proxy.Invalidation.InvalidationService invalidation, EdgeCache.Proxy.Invalidation.ShieldDiscovery discovery, ConfigurationReloader reloader, Tls.ServerCertificates certificates) : IDisposable
{
    private const int Capacity = 600;
    private readonly object _gate = new();
    private readonly Queue<Sample> _samples = new();
    private readonly DateTimeOffset _started = time.GetUtcNow();
    private (long Requests, long Hits) _last;
    private ITimer? _timer;

    private readonly record struct Sample(long UnixMs, long Requests, long Hits);

    public void Start()
    {
        _last = engine.RequestTotals;
        var interval = engine.Options.StatusSampleInterval;
        _timer = time.CreateTimer(_ => TakeSample(), null, interval, interval);
    }

    private void TakeSample()
    {
        var now = engine.RequestTotals;
        lock (_gate)
        {
            _samples.Enqueue(new Sample(time.GetUtcNow().ToUnixTimeMilliseconds(), now.Requests - _last.Requests, now.Hits - _last.Hits));
            while (_samples.Count > Capacity) _samples.Dequeue();
            _last = now;
        }
    }

    /// <summary>The latest collection of one kind: a pause behind a slow request or purge shows here.</summary>
    private static object? Gc(GCKind kind)
    {
        var info = GC.GetGCMemoryInfo(kind);
        if (info.Index == 0) return null;
        return new
        {
            index = info.Index,
            generation = info.Generation,
            pauseMs = Math.Round(info.PauseDurations[0].TotalMilliseconds + info.PauseDurations[1].TotalMilliseconds, 1),
            promotedBytes = info.PromotedBytes,
            heapBytes = info.HeapSizeBytes,
            compacted = info.Compacted,
        };
    }

    public Task WriteJsonAsync(HttpContext ctx)
    {
        Sample[] samples;
        lock (_gate) samples = [.. _samples];
        var disk = engine.Disk;
        var status = new
        {
            node = engine.Options.NodeId,
            role = engine.Options.Role.ToString().ToLowerInvariant(),
            uptimeSeconds = (long)(time.GetUtcNow() - _started).TotalSeconds,
            sampleIntervalMs = (long)engine.Options.StatusSampleInterval.TotalMilliseconds,
            samples = samples.Select(s => new { t = s.UnixMs, requests = s.Requests, hits = s.Hits }),
            totals = new { requests = engine.RequestTotals.Requests, hits = engine.RequestTotals.Hits, fast_hits = engine.FastHits, fast_hits_cut = engine.FastHitsCut },
            memory = new { bytes = engine.Memory.Bytes, budget = engine.Memory.BudgetBytes, objects = engine.Memory.Count, evictions = engine.Memory.Evictions },
            gc = new
            {
                mode = System.Runtime.GCSettings.IsServerGC ? "server" : "workstation",
                totalPauseMs = Math.Round(GC.GetTotalPauseDuration().TotalMilliseconds, 1),
                lastEphemeral = Gc(GCKind.Ephemeral),
                lastBackground = Gc(GCKind.Background),
                lastFullBlocking = Gc(GCKind.FullBlocking),
            },
            disk = new
            {
                state = engine.DiskOpenError is not null ? "failing" : engine.Disk is null ? "off" : engine.Disk.Healthy ? "ok" : "failing",
                bytes = disk?.LogBytes ?? 0,
                budget = engine.Options.Disk.Enabled ? engine.Options.Disk.BudgetBytes : 0,
                reopens = engine.Tiers.DiskReopens,
            },
            discovery = discovery.Source,
            configuration = new { reloads = reloader.Applied, refused = reloader.Refused, lastRefusal = reloader.LastRefusal },
            upstreams = proxyState.GetClusters().SelectMany(c => c.DestinationsState.AllDestinations.Select(d => new
            {
                cluster = c.ClusterId,
                id = d.DestinationId,
                address = d.Model.Config.Address,
                health = Health(d),
            })),
            invalidation = new
            {
                nats = invalidation.NatsState,
                appliedSeq = engine.AppliedSeq,
                current = engine.IsCurrent,
                sinceConfirmedMs = engine.SinceConfirmed is { } since ? Math.Round(since.TotalMilliseconds, 1) : (double?)null,
                degraded = invalidation.Degraded,
                rules = engine.Rules.Count,
                eventsApplied = invalidation.EventsApplied,
                gaps = invalidation.Gaps,
                resets = invalidation.Resets,
            },
            tls = certificates.Configured ? Certificates() : null,
            purges = invalidation.Recent.Select(p => new { seq = p.Sequence, id = p.Id, kind = p.Kind, selectors = p.Selectors, appliedAt = p.AppliedAt, lagMs = Math.Round(p.LagMs, 1) }),
        };
        ctx.Response.ContentType = "application/json";
        ctx.Response.Headers.CacheControl = "no-store";
        return JsonSerializer.SerializeAsync(ctx.Response.Body, status, cancellationToken: ctx.RequestAborted);
    }

    /// <summary>The certificates in force (never a key or password), what was refused, and the configured hosts none covers.</summary>
    private object Certificates()
    {
        var now = time.GetUtcNow();
        return new
        {
            unknownSni = engine.Options.Listen.UnknownSni.ToString(),
            reloads = certificates.Reloads,
            refused = certificates.RefusedReloads,
            refusedHandshakes = certificates.RefusedHandshakes,
            certificates = certificates.Slots.Select(s => new
            {
                setting = s.Source.Setting,
                names = s.InForce.Names.Names,
                subject = s.InForce.Certificate.Subject,
                notAfter = s.InForce.NotAfter,
                secondsLeft = (long)(s.InForce.NotAfter - now).TotalSeconds,
                source = s.Source.Path,
                keySource = s.Source.KeyPath,
                thumbprint = s.InForce.Certificate.Thumbprint,
                isDefault = s.Source.IsDefault,
                loadedAt = s.InForce.LoadedAt,
                lastRefusal = s.LastRefusal,
            }),
            uncoveredHosts = certificates.Uncovered(Tls.ServerCertificates.ConfiguredHosts(proxyState, engine.Options)),
        };
    }

    internal static string Health(DestinationState d) =>
        IsUnhealthy(d) ? "unhealthy" : d.Health.Active == DestinationHealth.Healthy ? "healthy" : "unknown";

    /// <summary>Marked down by either health check, active or passive: what the status page, /readyz, the
    /// <c>edgecache.upstream.healthy</c> gauge and the upstream retry loop all mean by unhealthy.</summary>
    internal static bool IsUnhealthy(DestinationState d) =>
        d.Health.Active == DestinationHealth.Unhealthy || d.Health.Passive == DestinationHealth.Unhealthy;

    public static Task WritePageAsync(HttpContext ctx)
    {
        ctx.Response.ContentType = "text/html; charset=utf-8";
        ctx.Response.Headers.CacheControl = "no-store";
        ctx.Response.Headers.ContentSecurityPolicy = "default-src 'self'; script-src 'unsafe-inline'; style-src 'unsafe-inline'";
        return ctx.Response.WriteAsync(Html);
    }

    public void Dispose() => _timer?.Dispose();

    private const string Html = """
<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>EdgeCache node status</title>
<style>
 body{font:14px system-ui,sans-serif;margin:24px;color:#222;background:#fafafa}
 h1{font-size:20px;margin:0 0 4px} .sub{color:#666;margin-bottom:16px}
 .cards{display:flex;gap:16px;flex-wrap:wrap} .card{background:#fff;border:1px solid #ddd;border-radius:6px;padding:12px 16px;min-width:260px}
 .big{font-size:28px;font-weight:600} svg{background:#fff;border:1px solid #eee} table{border-collapse:collapse} td,th{padding:2px 10px 2px 0;text-align:left}
 .healthy{color:#080}.unhealthy{color:#c00}.unknown{color:#888}
</style></head>
<body>
<h1 id="title">EdgeCache node</h1><div class="sub" id="sub">loading…</div>
<div class="cards">
 <div class="card"><div>Hit ratio (last minute)</div><div class="big" id="hit-ratio-value">–</div>
  <svg id="hit-chart" width="520" height="120" viewBox="0 0 520 120"><polyline id="hit-line" fill="none" stroke="#2a7" stroke-width="2" points=""/></svg></div>
 <div class="card"><div>Requests per second (last minute)</div><div class="big" id="rps-value">–</div>
  <svg id="rps-chart" width="520" height="120" viewBox="0 0 520 120"><polyline id="rps-line" fill="none" stroke="#27c" stroke-width="2" points=""/></svg></div>
</div>
<div class="cards" style="margin-top:16px">
 <div class="card"><b>Tiers</b><table id="tiers"></table></div>
 <div class="card"><b>Upstreams (as this node sees them)</b><table id="upstreams"></table></div>
 <div class="card"><b>Latest purges applied</b><div id="purges">none</div></div>
 <div class="card"><b>TLS certificates</b><table id="certificates"></table><div id="uncovered"></div></div>
</div>
<script>
"use strict";
const mib = b => (b / 1048576).toFixed(1) + " MiB";
function line(el, values, max) {
  const w = 520, h = 120, n = values.length;
  if (n === 0) { el.setAttribute("points", ""); el.dataset.points = "0"; return; }
  const step = n > 1 ? w / (n - 1) : 0;
  el.setAttribute("points", values.map((v, i) => (i * step).toFixed(1) + "," + (h - 4 - (max > 0 ? v / max : 0) * (h - 8)).toFixed(1)).join(" "));
  el.dataset.points = String(n);
}
function cell(tr, text, cls) { const td = document.createElement("td"); td.textContent = text; if (cls) td.className = cls; tr.appendChild(td); }
async function refresh() {
  const s = await (await fetch("status.json", { cache: "no-store" })).json();
  document.getElementById("title").textContent = "EdgeCache " + s.role + " " + s.node;
  document.getElementById("sub").textContent = "up " + s.uptimeSeconds + " s · " + s.totals.requests + " requests since start";
  const perSecond = 1000 / s.sampleIntervalMs;
  const recent = s.samples.slice(-Math.max(2, Math.round(60 * perSecond)));
  const req = recent.reduce((a, x) => a + x.requests, 0), hits = recent.reduce((a, x) => a + x.hits, 0);
  document.getElementById("hit-ratio-value").textContent = req > 0 ? Math.round(100 * hits / req) + "%" : "–";
  document.getElementById("rps-value").textContent = recent.length ? (req / (recent.length / perSecond)).toFixed(1) : "–";
  line(document.getElementById("hit-line"), recent.map(x => x.requests > 0 ? x.hits / x.requests : 0), 1);
  const rps = recent.map(x => x.requests * perSecond);
  line(document.getElementById("rps-line"), rps, Math.max(1, ...rps));
  const tiers = document.getElementById("tiers"); tiers.textContent = "";
  let tr = tiers.insertRow(); cell(tr, "memory"); cell(tr, mib(s.memory.bytes) + " of " + mib(s.memory.budget)); cell(tr, s.memory.objects + " URLs");
  tr = tiers.insertRow(); cell(tr, "disk"); cell(tr, s.disk.state === "off" ? "off" : mib(s.disk.bytes) + " of " + mib(s.disk.budget)); cell(tr, s.disk.state, s.disk.state === "ok" ? "healthy" : s.disk.state === "off" ? "unknown" : "unhealthy");
  const ups = document.getElementById("upstreams"); ups.textContent = "";
  for (const u of s.upstreams) { tr = ups.insertRow(); cell(tr, u.id); cell(tr, u.address); cell(tr, u.health, u.health); }
  const purges = document.getElementById("purges"); purges.textContent = "";
  const inv = s.invalidation;
  purges.appendChild(document.createTextNode("NATS " + inv.nats + " · applied seq " + inv.appliedSeq + (inv.current ? "" : " · NOT CURRENT (revalidating)") + (inv.degraded ? " · degraded: " + inv.degraded : "")));
  const pt = document.createElement("table"); pt.id = "purge-table"; purges.appendChild(pt);
  for (const p of s.purges) { tr = pt.insertRow(); cell(tr, "#" + p.seq); cell(tr, p.kind); cell(tr, p.selectors); cell(tr, p.lagMs + " ms"); cell(tr, p.id); }
  const certs = document.getElementById("certificates"); certs.textContent = "";
  const uncovered = document.getElementById("uncovered"); uncovered.textContent = "";
  if (!s.tls) { tr = certs.insertRow(); cell(tr, "none configured"); }
  else {
    for (const c of s.tls.certificates) {
      tr = certs.insertRow(); cell(tr, c.names.join(", ")); cell(tr, "until " + c.notAfter.slice(0, 10) + " (" + Math.floor(c.secondsLeft / 86400) + " days)", c.secondsLeft < 14 * 86400 ? "unhealthy" : "healthy");
      cell(tr, c.source); cell(tr, c.thumbprint.slice(0, 16) + "…"); cell(tr, c.isDefault ? "default" : "");
      if (c.lastRefusal) cell(tr, "change refused: " + c.lastRefusal, "unhealthy");
    }
    if (s.tls.uncoveredHosts.length) uncovered.textContent = "No certificate covers: " + s.tls.uncoveredHosts.join(", ");
  }
  document.body.dataset.loaded = "true";
}
refresh(); setInterval(refresh, 1000);
</script>
</body></html>
""";
}
