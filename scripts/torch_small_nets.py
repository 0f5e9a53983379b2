"""PyTorch definitions of Myelin's small CNNs, with the same parameter names, so state
dicts move between the two: LeNet5, SmallVGG ("vgg-small") and CIFARResNet ("resnet20",
... of He et al. 2015, section 4.2, option A shortcuts). Used by scripts/pytorch_mnist.py
and scripts/fixtures_small_nets.py."""
import torch
import torch.nn as nn
import torch.nn.functional as F


class LeNet5(nn.Module):
    def __init__(self, classes=10, in_channels=1):
        super().__init__()
        self.conv1 = nn.Conv2d(in_channels, 6, 5, padding=2)
        self.conv2 = nn.Conv2d(6, 16, 5)
        self.fc1 = nn.Linear(16 * 5 * 5, 120)
        self.fc2 = nn.Linear(120, 84)
        self.fc3 = nn.Linear(84, classes)

    def forward(self, x):
        x = F.max_pool2d(F.relu(self.conv1(x)), 2)
        x = F.max_pool2d(F.relu(self.conv2(x)), 2)
        x = torch.flatten(x, 1)
        x = F.relu(self.fc1(x))
        x = F.relu(self.fc2(x))
        return self.fc3(x)


class SmallVGG(nn.Module):
    def __init__(self, classes=10, in_channels=1, widths=(32, 64, 128), convs=2, hidden=256, dropout=0.5):
        super().__init__()
        layers, c = [], in_channels
        for w in widths:
            for _ in range(convs):
                layers += [nn.Conv2d(c, w, 3, padding=1, bias=False), nn.BatchNorm2d(w), nn.ReLU(inplace=True)]
                c = w
            layers.append(nn.MaxPool2d(2))
        self.features = nn.Sequential(*layers)
        self.classifier = nn.Sequential(nn.Linear(c, hidden), nn.ReLU(inplace=True), nn.Dropout(dropout),
                                        nn.Linear(hidden, classes))

    def forward(self, x):
        return self.classifier(self.features(x).mean((2, 3)))


class CIFARBasicBlock(nn.Module):
    def __init__(self, cin, planes, stride):
        super().__init__()
        self.conv1 = nn.Conv2d(cin, planes, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(planes)
        self.conv2 = nn.Conv2d(planes, planes, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(planes)
        self.stride = stride
        self.pad = (planes - cin) // 2

    def forward(self, x):
        y = self.bn2(self.conv2(F.relu(self.bn1(self.conv1(x)))))
        s = x[:, :, ::self.stride, ::self.stride] if self.stride != 1 else x
        if self.pad:
            s = F.pad(s, (0, 0, 0, 0, self.pad, self.pad))
        return F.relu(y + s)


class CIFARResNet(nn.Module):
    def __init__(self, depth=20, classes=10, in_channels=3, widths=(16, 32, 64)):
        super().__init__()
        n = (depth - 2) // 6
        self.conv1 = nn.Conv2d(in_channels, widths[0], 3, 1, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(widths[0])
        cin = widths[0]
        stages = []
        for planes, stride in ((widths[0], 1), (widths[1], 2), (widths[2], 2)):
            blocks = []
            for i in range(n):
                blocks.append(CIFARBasicBlock(cin, planes, stride if i == 0 else 1))
                cin = planes
            stages.append(nn.Sequential(*blocks))
        self.layer1, self.layer2, self.layer3 = stages
        self.fc = nn.Linear(widths[2], classes)

    def forward(self, x):
        x = F.relu(self.bn1(self.conv1(x)))
        x = self.layer3(self.layer2(self.layer1(x)))
        return self.fc(x.mean((2, 3)))


def make(name, classes=10, in_channels=1):
    if name == "lenet5":
        return LeNet5(classes, in_channels)
    if name == "vgg-small":
        return SmallVGG(classes, in_channels)
    if name.startswith("resnet"):
        return CIFARResNet(int(name[6:]), classes, in_channels)
    raise ValueError(f"unknown model {name}")
