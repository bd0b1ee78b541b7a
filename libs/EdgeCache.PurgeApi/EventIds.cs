namespace EdgeCache.PurgeApi;

/// <summary>The event ids of this project's log messages (3000–3999), one constant per message
/// (<see cref="Log"/>), so operators' alert rules and the README can rely on them.</summary>
internal static class EventIds
{
    public const int Accepted = 3001;
    public const int Refused = 3002;
    public const int NatsUnavailable = 3003;
    public const int Listening = 3004;
    public const int KeysReloaded = 3005;
    public const int KeysRefused = 3006;
    public const int AuthFailuresLimited = 3007;
    public const int Replayed = 3008;

    // 3100–3199: cache warming (WarmLog).
    public const int Warmed = 3101;
    public const int WarmFailed = 3102;
    public const int FeedInterrupted = 3020;
    public const int FeedReset = 3021;
    public const int InstanceLeft = 3022;
    public const int MembershipUnknown = 3009;
}
