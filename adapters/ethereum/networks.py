"""Per-network facts: checkpoint sync endpoints and MEV-boost relays (overridable per stack).

Relay URLs embed each relay's BLS public key, so mev-boost refuses a relay that answers
with another key. Sources: mainnet and Sepolia from the relays' own announcements as
listed by the client teams; Hoodi from the eth-clients/hoodi README (MEV relay list).
Checkpoint endpoints: the Sigma Prime public checkpoint servers (community list at
eth-clients.github.io/checkpoint-sync-endpoints); verify the finalized root against a
second source after syncing (see runbooks/ethereum.md).
"""

from __future__ import annotations

from dataclasses import dataclass

NETWORKS = ("mainnet", "hoodi", "sepolia")
RETIRED = {
    "holesky": "Holesky is retired: Hoodi replaced it as the staking testnet in 2025 and client teams have "
               "dropped it. Use network: hoodi",
    "goerli": "Goerli was shut down in 2024. Use network: hoodi (staking) or sepolia (applications)",
    "prater": "Prater (Goerli) was shut down in 2024. Use network: hoodi",
}


@dataclass(frozen=True)
class Network:
    name: str
    chain_id: int
    checkpoint_sync_url: str
    relays: tuple[str, ...]


FLASHBOTS_MAINNET = ("https://0xac6e77dfe25ecd6110b8e780608cce0dab71fdd5ebea22a16c0205200f2f8e2e3ad3b71d3499c54ad"
                     "14d6c21b41a37ae@boost-relay.flashbots.net")
ULTRASOUND_MAINNET = ("https://0xa1559ace749633b997cb3fdacffb890aeebdb0f5a3b6aaa7eeeaf1a38af0a8fe88b9e4b1f61f236d2"
                      "e64d95733327a62@relay.ultrasound.money")
AESTUS_MAINNET = ("https://0xa15b52576bcbf1072f4a011c0f99f9fb6c66f3e1ff321f11f461d15e31b1cb359caa092c71bbded0bae"
                  "5b5ea401aab7e@aestus.live")
FLASHBOTS_HOODI = ("https://0xafa4c6985aa049fb79dd37010438cfebeb0f2bd42b115b89dd678dab0670c1de38da0c4e9138c9290a"
                   "398ecd9a0b3110@boost-relay-hoodi.flashbots.net")
ULTRASOUND_HOODI = ("https://0xb1559beef7b5ba3127485bbbb090362d9f497ba64e177ee2c8e7db74746306efad687f2cf8574e38d7"
                    "0067d40ef136dc@relay-hoodi.ultrasound.money")
AESTUS_HOODI = ("https://0x98f0ef62f00780cf8eb06701a7d22725b9437d4768bb19b363e882ae87129945ec206ec2dc16933f31d98"
                "3f8225772b6@hoodi.aestus.live")
FLASHBOTS_SEPOLIA = ("https://0x845bd072b7cd566f02faeb0a4033ce9399e42839ced64e8b2adcfc859ed1e8e1a5a293336a49feac6"
                     "d9a5edb779be53a@boost-relay-sepolia.flashbots.net")

BY_NAME: dict[str, Network] = {
    "mainnet": Network("mainnet", 1, "https://mainnet.checkpoint.sigp.io",
                       (FLASHBOTS_MAINNET, ULTRASOUND_MAINNET, AESTUS_MAINNET)),
    "hoodi": Network("hoodi", 560048, "https://hoodi.checkpoint.sigp.io",
                     (FLASHBOTS_HOODI, ULTRASOUND_HOODI, AESTUS_HOODI)),
    "sepolia": Network("sepolia", 11155111, "https://sepolia.checkpoint.sigp.io", (FLASHBOTS_SEPOLIA,)),
}
